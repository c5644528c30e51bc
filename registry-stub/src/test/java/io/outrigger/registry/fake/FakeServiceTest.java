package io.outrigger.registry.fake;

import com.fasterxml.jackson.databind.JsonNode;
import io.outrigger.registry.consul.RegistryServer;
import io.outrigger.registry.testing.RawHttp;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static io.outrigger.registry.testing.Http.await;
import static io.outrigger.registry.testing.Http.get;
import static io.outrigger.registry.testing.Http.json;
import static io.outrigger.registry.testing.Http.post;
import static io.outrigger.registry.testing.Http.put;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FakeServiceTest {
    private final List<AutoCloseable> started = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (int i = started.size() - 1; i >= 0; i--) {
            started.get(i).close();
        }
    }

    private FakeService start(FakeService.Settings s) throws InterruptedException {
        FakeService f = FakeService.start(s, new Behaviour(0, 0));
        started.add(f);
        return f;
    }

    @Test
    void echoesTheRequest() throws Exception {
        FakeService svc = start(FakeService.Settings.local("service-b").withInstanceId("b-1"));
        HttpResponse<String> res = get(svc.port(), "/api/users/123?x=1", "x-request-id", "req-1", "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        assertEquals(200, res.statusCode());
        JsonNode body = json(res);
        List<String> fields = new ArrayList<>();
        body.fieldNames().forEachRemaining(fields::add);
        assertEquals(List.of("service", "instance", "method", "path", "headers"), fields);
        assertEquals("service-b", body.get("service").asText());
        assertEquals("b-1", body.get("instance").asText());
        assertEquals("GET", body.get("method").asText());
        assertEquals("/api/users/123?x=1", body.get("path").asText());
        assertEquals("req-1", body.get("headers").get("x-request-id").asText());
        assertEquals("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", body.get("headers").get("traceparent").asText());
    }

    @Test
    void anAbsoluteFormTargetIsRoutedByItsPathAndEchoedAsSent() throws Exception {
        FakeService svc = start(FakeService.Settings.local("service-b"));
        svc.behaviour().setHealthFailing(true);
        RawHttp.Response health = RawHttp.exchange(svc.port(),
                "GET http://127.0.0.1:" + svc.port() + "/health HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n");
        assertEquals(503, health.status(), "routed as /health: " + health.body());
        RawHttp.Response echo = RawHttp.exchange(svc.port(),
                "GET http://service-b/a%20b?x=1 HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n");
        assertEquals(200, echo.status());
        assertEquals("http://service-b/a%20b?x=1", json(echo.body()).get("path").asText());
    }

    @Test
    void aBadEscapeIs400WithAReason() throws Exception {
        FakeService svc = start(FakeService.Settings.local("service-b"));
        RawHttp.Response res = RawHttp.exchange(svc.port(), "GET /x%zz HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n");
        assertEquals(400, res.status());
        assertTrue(json(res.body()).get("error").asText().startsWith("malformed request target: "), res.body());
    }

    @Test
    void aQueryItNeverDecodesIsNoReasonToRefuse() throws Exception {
        FakeService svc = start(FakeService.Settings.local("service-b"));
        RawHttp.Response res = RawHttp.exchange(svc.port(), "GET /x?q=50% HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n");
        assertEquals(200, res.status(), res.body());
        assertEquals("/x?q=50%", json(res.body()).get("path").asText());
        res = RawHttp.exchange(svc.port(), "POST /admin/fail?rate=%zz HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        assertEquals(400, res.status(), "where the query is read, a bad escape is still the caller's error: " + res.body());
    }

    @Test
    void echoesTheHeadersAsReceived() throws Exception {
        FakeService svc = start(FakeService.Settings.local("service-b"));
        RawHttp.Response res = RawHttp.exchange(svc.port(), "POST /x HTTP/1.1\r\nHost: b\r\nX-Dup: one\r\nx-dup: two, three\r\n"
                + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
        assertEquals(200, res.status(), res.body());
        JsonNode headers = json(res.body()).get("headers");
        assertEquals("one, two, three", headers.get("x-dup").asText(), "the lines joined in order (RFC 9110 5.3), a string as before");
        assertEquals("chunked", headers.get("transfer-encoding").asText());
        assertEquals(null, headers.get("content-length"), "the aggregator's Content-Length is not what was received");
        assertEquals("b", headers.get("host").asText());

        RawHttp.Response get = RawHttp.exchange(svc.port(), "GET /x HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n");
        assertEquals("{\"host\":\"b\",\"connection\":\"close\"}", json(get.body()).get("headers").toString());
    }

    @Test
    void failRateAndHealthSwitch() throws Exception {
        FakeService svc = start(FakeService.Settings.local("service-b"));
        assertEquals(200, get(svc.port(), "/health").statusCode());
        assertEquals(200, post(svc.port(), "/admin/fail?rate=1.0").statusCode());
        assertEquals(500, get(svc.port(), "/anything").statusCode());
        assertEquals(503, get(svc.port(), "/health").statusCode(), "a fail rate of 1.0 fails /health too");

        assertEquals(200, post(svc.port(), "/admin/fail?rate=0.5").statusCode());
        int failed = 0;
        for (int i = 0; i < 200; i++) {
            failed += get(svc.port(), "/x").statusCode() == 500 ? 1 : 0;
        }
        assertTrue(failed > 50 && failed < 150, failed + " of 200 failed at rate 0.5");
        assertEquals(200, get(svc.port(), "/health").statusCode());

        assertEquals(200, post(svc.port(), "/admin/fail?rate=0").statusCode());
        assertEquals(200, post(svc.port(), "/admin/health?fail=true").statusCode());
        assertEquals(503, get(svc.port(), "/health").statusCode());
        assertEquals(200, get(svc.port(), "/x").statusCode(), "the health switch leaves ordinary requests alone");
        assertEquals(400, post(svc.port(), "/admin/fail?rate=2").statusCode());
        assertEquals(400, post(svc.port(), "/admin/latency?ms=abc").statusCode());
        HttpResponse<String> wrongMethod = get(svc.port(), "/admin/fail?rate=1");
        assertEquals(405, wrongMethod.statusCode());
        assertEquals("POST", wrongMethod.headers().firstValue("Allow").orElse(null));

        assertEquals(200, post(svc.port(), "/admin/fail?rate=1&status=503").statusCode());
        assertEquals(503, get(svc.port(), "/x").statusCode(), "the injected failure's status can be chosen");
        assertEquals(400, post(svc.port(), "/admin/fail?rate=1&status=200").statusCode());
        assertEquals(503, get(svc.port(), "/x").statusCode(), "a rejected change changes nothing");
        assertEquals(400, post(svc.port(), "/admin/fail?rate=2&status=502").statusCode());
        assertEquals(503, get(svc.port(), "/x").statusCode(), "a refused rate leaves the status alone too");
        assertEquals(200, post(svc.port(), "/admin/fail?rate=1").statusCode());
        assertEquals(500, get(svc.port(), "/x").statusCode(), "without status the status is the default, 500");

        HttpResponse<String> notANumber = post(svc.port(), "/admin/fail?rate=abc");
        assertEquals(400, notANumber.statusCode());
        assertEquals("rate: \"abc\" (expected: a number 0.0..1.0)", json(notANumber).get("error").asText());
        assertEquals("ms: \"x\" (expected: an integer 0..600000)", json(post(svc.port(), "/admin/latency?ms=x")).get("error").asText());
    }

    @Test
    void latencyDelaysAnswers() throws Exception {
        FakeService svc = start(FakeService.Settings.local("service-b"));
        assertEquals(200, post(svc.port(), "/admin/latency?ms=10000").statusCode());
        long start = System.nanoTime();
        assertEquals(200, post(svc.port(), "/admin/latency?ms=1000").statusCode());
        long admin = (System.nanoTime() - start) / 1_000_000;
        // Far under the latency in force, so that a loaded machine does not pass for a delayed answer.
        assertTrue(admin < 5000, "admin endpoints are not delayed by the 10000 ms latency: took " + admin + " ms");
        start = System.nanoTime();
        assertEquals(200, get(svc.port(), "/slow").statusCode());
        long took = (System.nanoTime() - start) / 1_000_000;
        assertTrue(took >= 1000 && took < 5000, "took " + took + " ms");
    }

    @Test
    void callGoesThroughTheSidecarWithTraceHeaders() throws Exception {
        // A fake service stands in for the sidecar: it echoes the proxy-form request it receives.
        FakeService proxy = start(FakeService.Settings.local("stand-in-proxy"));
        FakeService caller = start(FakeService.Settings.local("service-a").withSidecar(URI.create("http://127.0.0.1:" + proxy.port())));
        HttpResponse<String> res = get(caller.port(), "/call/service-b/api/users/7?q=1", "x-request-id", "req-9",
                "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        assertEquals(200, res.statusCode(), res.body());
        JsonNode body = json(res);
        assertEquals("service-a", body.get("service").asText());
        assertEquals("req-9", body.get("headers").get("x-request-id").asText(), "the caller's own trace view");
        JsonNode down = body.get("downstream");
        assertEquals(200, down.get("status").asInt());
        JsonNode seen = down.get("body");
        assertEquals("stand-in-proxy", seen.get("service").asText());
        assertEquals("http://service-b/api/users/7?q=1", seen.get("path").asText(), "proxy form, as HTTP_PROXY clients send");
        assertEquals("service-b", seen.get("headers").get("host").asText());
        assertEquals("req-9", seen.get("headers").get("x-request-id").asText());
        assertEquals("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", seen.get("headers").get("traceparent").asText());
    }

    @Test
    void callForwardsThePathAsSentAndRefusesABadServiceName() throws Exception {
        FakeService proxy = start(FakeService.Settings.local("stand-in-proxy"));
        FakeService caller = start(FakeService.Settings.local("service-a").withSidecar(URI.create("http://127.0.0.1:" + proxy.port())));
        HttpResponse<String> res = get(caller.port(), "/call/service-b/y%20z/a%2Fb/%C3%BC/p%2541?q=a%20b&r=%2B");
        assertEquals(200, res.statusCode(), res.body());
        assertEquals("http://service-b/y%20z/a%2Fb/%C3%BC/p%2541?q=a%20b&r=%2B",
                json(res).get("downstream").get("body").get("path").asText(), "still encoded, as the caller sent it");
        assertEquals("http://service-b/", json(get(caller.port(), "/call/service-b")).get("downstream").get("body").get("path").asText());

        for (String bad : new String[] {"/call/a%20b/x", "/call/a:b@c/x", "/call/a%2Fb/x", "/call//x"}) {
            HttpResponse<String> refused = get(caller.port(), bad);
            assertEquals(400, refused.statusCode(), bad);
            assertTrue(json(refused).get("error").asText().contains("SERVICE"), refused.body());
        }
    }

    @Test
    void callWithoutAReachableSidecarIs502() throws Exception {
        FakeService alone = start(FakeService.Settings.local("service-a"));
        assertEquals(502, get(alone.port(), "/call/service-b/x").statusCode());
        FakeService nowhere = start(FakeService.Settings.local("service-a").withSidecar(URI.create("http://127.0.0.1:1")));
        HttpResponse<String> res = get(nowhere.port(), "/call/service-b/x");
        assertEquals(502, res.statusCode());
        assertTrue(json(res).get("downstream").get("error").asText().contains("127.0.0.1:1"), res.body());
    }

    @Test
    void registersWithACheckAndDeregistersOnClose() throws Exception {
        try (RegistryServer registry = RegistryServer.start("127.0.0.1", 0, List.of())) {
            URI url = URI.create("http://127.0.0.1:" + registry.port());
            FakeService svc = FakeService.start(FakeService.Settings.local("service-b").withRegistry(url, "50ms"), new Behaviour(0, 0));
            try {
                await("registered and passing", 3000,
                        () -> json(get(registry.port(), "/v1/health/service/service-b?passing=true")).size() == 1);
                JsonNode entry = json(get(registry.port(), "/v1/health/service/service-b")).get(0);
                assertEquals("service-b-" + svc.port(), entry.get("Service").get("ID").asText());
                svc.behaviour().setHealthFailing(true);
                await("critical", 3000, () -> json(get(registry.port(), "/v1/health/service/service-b?passing=true")).size() == 0);
            } finally {
                svc.close();
            }
            assertEquals("[]", get(registry.port(), "/v1/health/service/service-b").body());
        }
    }

    /**
     * A registry that holds each registration until {@link #release} opens, and keeps the registered ids; answers
     * on its own threads, as a slow registry would.
     */
    private static final class HoldingRegistry implements AutoCloseable {
        final com.sun.net.httpserver.HttpServer server;
        final CountDownLatch registerReceived = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final CountDownLatch registerAnswered = new CountDownLatch(1);
        final Set<String> registered = ConcurrentHashMap.newKeySet();

        HoldingRegistry() throws IOException {
            server = com.sun.net.httpserver.HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
            server.setExecutor(Executors.newCachedThreadPool());
            server.createContext("/v1/agent/service/", ex -> {
                String path = ex.getRequestURI().getPath();
                String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
                if (path.endsWith("/register")) {
                    registerReceived.countDown();
                    try {
                        release.await(10, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    registered.add(json(body).get("ID").asText());
                } else {
                    registered.remove(path.substring(path.lastIndexOf('/') + 1));
                }
                ex.sendResponseHeaders(200, -1);
                ex.close();
                if (path.endsWith("/register")) {
                    registerAnswered.countDown();
                }
            });
            server.start();
        }

        URI url() {
            return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
        }

        @Override
        public void close() {
            release.countDown();
            server.stop(0);
            ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
        }
    }

    @Test
    void aRegistrationInFlightAtShutdownIsRemovedOnceItLands() throws Exception {
        try (HoldingRegistry registry = new HoldingRegistry()) {
            FakeService svc = FakeService.start(FakeService.Settings.local("service-b").withInstanceId("b-1")
                    .withRegistry(registry.url(), "1s"), new Behaviour(0, 0));
            assertTrue(registry.registerReceived.await(5, TimeUnit.SECONDS), "the registration reached the registry");
            Thread closer = new Thread(svc::close, "closer");
            closer.start();
            // Let the registration land only once shutdown has begun: waiting for it, or done without it.
            await("shutdown under way", 5000, () -> closer.getState() == Thread.State.TIMED_WAITING
                    || closer.getState() == Thread.State.WAITING || !closer.isAlive());
            registry.release.countDown();
            closer.join(10_000);
            assertFalse(closer.isAlive());
            assertTrue(registry.registerAnswered.await(5, TimeUnit.SECONDS), "the registration landed");
            assertEquals(Set.of(), registry.registered, "the registration that landed during shutdown was removed");
        }
    }

    private static boolean lists(RegistryServer registry, String id, boolean passingOnly) {
        for (JsonNode e : json(get(registry.port(), "/v1/health/service/service-b" + (passingOnly ? "?passing=true" : "")))) {
            if (e.get("Service").get("ID").asText().equals(id)) {
                return true;
            }
        }
        return false;
    }

    @Test
    void registersAgainWithARegistryThatRestartedAndOnlyThen() throws Exception {
        RegistryServer first = RegistryServer.start("127.0.0.1", 0, List.of());
        int port = first.port();
        SelfRegistration reg;
        try {
            FakeService svc = start(FakeService.Settings.local("service-b").withInstanceId("b-1")
                    .withRegistry(URI.create("http://127.0.0.1:" + port), "50ms").withSyncInterval(100));
            reg = svc.registration();
            await("registered and passing", 3000, () -> lists(first, "b-1", true));
            int looked = reg.looks();
            await("three looks", 3000, () -> reg.looks() >= looked + 3);
            assertEquals(1, reg.registrations(), "listed: not registered again, so its check status did not flap");
        } finally {
            first.close();
        }
        try (RegistryServer restarted = RegistryServer.start("127.0.0.1", port, List.of())) {
            await("registered again with the restarted registry", 5000, () -> lists(restarted, "b-1", true));
            // The registry lists the instance as it handles the PUT; the service counts it once the answer is back.
            await("the second registration counted", 3000, () -> reg.registrations() >= 2);
            int looked = reg.looks();
            await("three more looks", 3000, () -> reg.looks() >= looked + 3);
            assertEquals(2, reg.registrations());

            // Removed by the registry that is still running: stays removed, as with a Consul agent.
            assertEquals(200, put(port, "/v1/agent/service/deregister/b-1", "").statusCode());
            int removedAt = reg.looks();
            await("the removal seen", 3000, () -> reg.looks() > removedAt && !reg.registered());
            assertFalse(lists(restarted, "b-1", false));
            assertEquals(2, reg.registrations());
        }
    }

    @Test
    void keepsLookingWhenTheRegistryIndexIsNotANumber() throws Exception {
        com.sun.net.httpserver.HttpServer registry = com.sun.net.httpserver.HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        registry.createContext("/", ex -> {
            ex.getRequestBody().readAllBytes();
            byte[] body = ex.getRequestURI().getPath().startsWith("/v1/health/")
                    ? "[{\"Service\":{\"ID\":\"b-1\"}}]".getBytes(StandardCharsets.UTF_8) : new byte[0];
            ex.getResponseHeaders().add("X-Consul-Index", "garbage");
            ex.sendResponseHeaders(200, body.length == 0 ? -1 : body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        registry.start();
        try {
            FakeService svc = start(FakeService.Settings.local("service-b").withInstanceId("b-1")
                    .withRegistry(URI.create("http://127.0.0.1:" + registry.getAddress().getPort()), "1s").withSyncInterval(50));
            SelfRegistration reg = svc.registration();
            await("registered", 3000, reg::registered);
            await("looks go on after an index that is not a number", 3000, () -> reg.looks() >= 3);
            assertEquals(1, reg.registrations());
        } finally {
            registry.stop(0);
        }
    }
}

package io.outrigger.registry.consul;

import com.fasterxml.jackson.databind.JsonNode;
import io.outrigger.registry.fake.Behaviour;
import io.outrigger.registry.fake.FakeService;
import io.outrigger.registry.testing.RawHttp;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.outrigger.registry.testing.Http.await;
import static io.outrigger.registry.testing.Http.get;
import static io.outrigger.registry.testing.Http.getAsync;
import static io.outrigger.registry.testing.Http.index;
import static io.outrigger.registry.testing.Http.json;
import static io.outrigger.registry.testing.Http.put;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RegistryServerTest {
    private RegistryServer registry;
    private int port;
    private final List<AutoCloseable> closeLater = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        registry = RegistryServer.start("127.0.0.1", 0, List.of());
        port = registry.port();
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : closeLater) {
            c.close();
        }
        registry.close();
    }

    private static String instance(String id, String name, int port) {
        return "{\"ID\":\"" + id + "\",\"Name\":\"" + name + "\",\"Address\":\"127.0.0.1\",\"Port\":" + port + "}";
    }

    @Test
    void registersListsAndDeregisters() {
        assertEquals(200, put(port, "/v1/agent/service/register", instance("b-1", "service-b", 9001)).statusCode());
        assertEquals(200, put(port, "/v1/agent/service/register", instance("b-2", "service-b", 9002)).statusCode());
        assertEquals(200, put(port, "/v1/agent/service/register", instance("c-1", "service-c", 9101)).statusCode());

        HttpResponse<String> health = get(port, "/v1/health/service/service-b?passing=true");
        assertEquals(200, health.statusCode());
        assertTrue(index(health) >= 1);
        JsonNode list = json(health);
        assertEquals(2, list.size());
        assertEquals("{\"ID\":\"b-1\",\"Service\":\"service-b\",\"Address\":\"127.0.0.1\",\"Port\":9001}", list.get(0).get("Service").toString());
        assertEquals("[{\"Status\":\"passing\"}]", list.get(0).get("Checks").toString());
        assertEquals("{\"service-b\":[],\"service-c\":[]}", get(port, "/v1/catalog/services").body());

        assertEquals(200, put(port, "/v1/agent/service/deregister/b-1", "").statusCode());
        assertEquals(404, put(port, "/v1/agent/service/deregister/b-1", "").statusCode());
        list = json(get(port, "/v1/health/service/service-b"));
        assertEquals(1, list.size());
        assertEquals("b-2", list.get(0).path("Service").path("ID").asText());
        assertEquals(200, put(port, "/v1/agent/service/deregister/c-1", "").statusCode());
        assertEquals("{\"service-b\":[]}", get(port, "/v1/catalog/services").body());
        assertEquals("[]", get(port, "/v1/health/service/unknown").body());
    }

    @Test
    void reRegisteringAnIdReplacesTheInstance() {
        put(port, "/v1/agent/service/register", instance("b-1", "service-b", 9001));
        put(port, "/v1/agent/service/register", instance("b-1", "service-b", 9005));
        JsonNode list = json(get(port, "/v1/health/service/service-b"));
        assertEquals(1, list.size());
        assertEquals(9005, list.get(0).path("Service").path("Port").asInt());
    }

    /** Consul defaults an empty ID to the Name, as it does a missing one (Go's decoding cannot tell them apart). */
    @Test
    void anEmptyIdIsTheNameAsInConsul() {
        HttpResponse<String> res = put(port, "/v1/agent/service/register",
                "{\"ID\":\"\",\"Name\":\"service-b\",\"Address\":\"127.0.0.1\",\"Port\":9001}");
        assertEquals(200, res.statusCode(), res.body());
        assertEquals("service-b", json(get(port, "/v1/health/service/service-b")).get(0).path("Service").path("ID").asText());
        assertEquals(200, put(port, "/v1/agent/service/deregister/service-b", "").statusCode());
        assertEquals(400, put(port, "/v1/agent/service/register", "{\"ID\":\" \",\"Name\":\"s\",\"Address\":\"127.0.0.1\",\"Port\":1}")
                .statusCode(), "a blank ID that is not empty is still refused");
    }

    @Test
    void checkGoesCriticalAndBackAndPassingFilters() throws Exception {
        FakeService svc = FakeService.start(FakeService.Settings.local("service-b"), new Behaviour(0, 0));
        closeLater.add(svc);
        registerChecked(svc.port(), "1s");
        put(port, "/v1/agent/service/register", instance("b-2", "service-b", 9002));
        await("b-1 passing", 3000, () -> json(get(port, "/v1/health/service/service-b?passing=true")).size() == 2);
        long before = index(get(port, "/v1/health/service/service-b"));

        svc.behaviour().setHealthFailing(true);
        await("b-1 critical", 3000, () -> json(get(port, "/v1/health/service/service-b?passing=true")).size() == 1);
        JsonNode all = json(get(port, "/v1/health/service/service-b"));
        assertEquals(2, all.size(), "without ?passing the critical instance is still listed");
        assertEquals("critical", all.get(0).path("Checks").get(0).path("Status").asText());
        assertTrue(index(get(port, "/v1/health/service/service-b")) > before, "a status change moves the index");

        svc.behaviour().setHealthFailing(false);
        await("b-1 passing again", 3000, () -> json(get(port, "/v1/health/service/service-b?passing=true")).size() == 2);
    }

    /**
     * Consul's agent restores a re-registered check's status (the check keeps its id, {@code service:ID}); the stub
     * made the new registration critical until its first check answered, so registering an instance again dropped
     * it from {@code ?passing=true} answers for a moment. The fake service answers its checks 1 s late here, so the
     * re-registration's own first check is still out when the registry is asked.
     */
    @Test
    void reRegisteringACheckedInstanceKeepsItsStatus() throws Exception {
        FakeService svc = FakeService.start(FakeService.Settings.local("service-b"), new Behaviour(0, 0));
        closeLater.add(svc);
        String body = "{\"ID\":\"b-1\",\"Name\":\"service-b\",\"Address\":\"127.0.0.1\",\"Port\":" + svc.port()
                + ",\"Check\":{\"HTTP\":\"http://127.0.0.1:" + svc.port() + "/health\",\"Interval\":\"50ms\",\"Timeout\":\"5s\"}}";
        put(port, "/v1/agent/service/register", body);
        await("b-1 passing", 3000, () -> json(get(port, "/v1/health/service/service-b?passing=true")).size() == 1);
        svc.behaviour().setLatencyMillis(1000);

        assertEquals(200, put(port, "/v1/agent/service/register", body).statusCode());
        JsonNode list = json(get(port, "/v1/health/service/service-b"));
        assertEquals("passing", list.get(0).path("Checks").get(0).path("Status").asText(), "re-registered: " + list);
        assertEquals(1, json(get(port, "/v1/health/service/service-b?passing=true")).size());
    }

    /**
     * Since Consul 1.6 a check waits for its whole {@code Timeout}, longer than the interval or not: an instance whose
     * {@code /health} answers in 300 ms with a 50 ms interval and a 5 s timeout passes. The stub cut every check off
     * at the interval, so such an instance stayed critical.
     */
    @Test
    void aCheckSlowerThanItsIntervalPassesWithinItsTimeout() throws Exception {
        FakeService svc = FakeService.start(FakeService.Settings.local("service-b"), new Behaviour(0, 300));
        closeLater.add(svc);
        registerChecked(svc.port(), "5s");
        await("b-1 passing", 3000, () -> json(get(port, "/v1/health/service/service-b?passing=true")).size() == 1);
    }

    /**
     * Consul's HTTP check follows redirects (Go's client; {@code DisableRedirects} is false unless set) and judges the
     * final answer. The stub took the {@code 302} itself as a failure, so a {@code /health} that redirects stayed critical.
     */
    @Test
    void aCheckFollowsRedirectsAsConsulsDoes() throws Exception {
        com.sun.net.httpserver.HttpServer app = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress("127.0.0.1", 0), 0);
        app.createContext("/", exchange -> {
            boolean moved = exchange.getRequestURI().getPath().equals("/health");
            if (moved) {
                exchange.getResponseHeaders().set("Location", "/healthz");
            }
            exchange.sendResponseHeaders(moved ? 302 : 200, -1);
            exchange.close();
        });
        app.start();
        closeLater.add(() -> app.stop(0));
        int appPort = app.getAddress().getPort();
        put(port, "/v1/agent/service/register", "{\"ID\":\"b-1\",\"Name\":\"service-b\",\"Address\":\"127.0.0.1\",\"Port\":" + appPort
                + ",\"Check\":{\"HTTP\":\"http://127.0.0.1:" + appPort + "/health\",\"Interval\":\"50ms\"}}");
        await("b-1 passing", 3000, () -> json(get(port, "/v1/health/service/service-b?passing=true")).size() == 1);
    }

    /** Consul reads {@code passing} with Go's {@code strconv.ParseBool}: {@code t}, {@code TRUE}, {@code False} ... */
    @Test
    void passingTakesTheBooleanSpellingsConsulTakes() {
        put(port, "/v1/agent/service/register", instance("b-1", "service-b", 9001));
        // Nothing listens on port 1 of loopback: this instance stays critical.
        put(port, "/v1/agent/service/register", "{\"ID\":\"b-2\",\"Name\":\"service-b\",\"Address\":\"127.0.0.1\",\"Port\":1,"
                + "\"Check\":{\"HTTP\":\"http://127.0.0.1:1/health\",\"Interval\":\"1m\"}}");
        for (String yes : new String[] {"", "=", "=1", "=t", "=T", "=true", "=TRUE", "=True"}) {
            HttpResponse<String> res = get(port, "/v1/health/service/service-b?passing" + yes);
            assertEquals(200, res.statusCode(), yes + ": " + res.body());
            assertEquals(1, json(res).size(), "passing" + yes);
        }
        for (String no : new String[] {"=0", "=f", "=F", "=false", "=FALSE", "=False"}) {
            HttpResponse<String> res = get(port, "/v1/health/service/service-b?passing" + no);
            assertEquals(200, res.statusCode(), no + ": " + res.body());
            assertEquals(2, json(res).size(), "passing" + no);
        }
        HttpResponse<String> bad = get(port, "/v1/health/service/service-b?passing=yes");
        assertEquals(400, bad.statusCode());
        assertEquals("passing: \"yes\" (expected: true or false)\n", bad.body());
    }

    @Test
    void anInstanceCriticalTooLongIsRemoved() {
        // Nothing listens on port 1 of loopback: the check is refused at once.
        put(port, "/v1/agent/service/register", "{\"ID\":\"gone\",\"Name\":\"service-d\",\"Address\":\"127.0.0.1\",\"Port\":1,"
                + "\"Check\":{\"HTTP\":\"http://127.0.0.1:1/health\",\"Interval\":\"50ms\",\"DeregisterCriticalServiceAfter\":\"200ms\"}}");
        assertEquals(1, json(get(port, "/v1/health/service/service-d")).size());
        await("critical instance deregistered", 3000, () -> json(get(port, "/v1/health/service/service-d")).size() == 0);
        assertEquals("{}", get(port, "/v1/catalog/services").body());
    }

    @Test
    void blockingQueryAnswersSoonAfterAChange() throws Exception {
        put(port, "/v1/agent/service/register", instance("b-1", "service-b", 9001));
        long idx = index(get(port, "/v1/health/service/service-b"));
        long catalogIdx = index(get(port, "/v1/catalog/services"));
        CompletableFuture<HttpResponse<String>> parked = getAsync(port, "/v1/health/service/service-b?index=" + idx + "&wait=10s");
        CompletableFuture<HttpResponse<String>> parkedCatalog = getAsync(port, "/v1/catalog/services?index=" + catalogIdx + "&wait=10s");
        CompletableFuture<Long> answeredAt = parked.thenApply(r -> System.nanoTime());
        await("both queries parked", 3000, () -> registry.catalog().parked() == 2);
        assertFalse(parked.isDone(), "nothing changed yet");

        put(port, "/v1/agent/service/register", instance("b-2", "service-b", 9002));
        long changed = System.nanoTime();
        HttpResponse<String> res = parked.get(5, TimeUnit.SECONDS);
        // Soon, not at the end of the 10 s wait; the bound leaves a loaded machine room to schedule the client's threads.
        assertTrue(answeredAt.get() - changed < TimeUnit.MILLISECONDS.toNanos(3000),
                "answered " + TimeUnit.NANOSECONDS.toMillis(answeredAt.get() - changed) + " ms after the change");
        assertTrue(index(res) > idx);
        assertEquals(2, json(res).size());
        // Registering a service-b instance does not add a service, yet the catalog query sees a new index too.
        assertTrue(index(parkedCatalog.get(5, TimeUnit.SECONDS)) > catalogIdx);
    }

    @Test
    void blockingQueryAnswersAfterWaitWhenNothingChanges() throws Exception {
        put(port, "/v1/agent/service/register", instance("b-1", "service-b", 9001));
        put(port, "/v1/agent/service/register", instance("c-1", "service-c", 9101));
        long idx = index(get(port, "/v1/health/service/service-b"));
        long start = System.nanoTime();
        CompletableFuture<HttpResponse<String>> parked = getAsync(port, "/v1/health/service/service-b?index=" + idx + "&wait=300ms");
        put(port, "/v1/agent/service/register", instance("c-2", "service-c", 9102)); // another service: no wake-up
        HttpResponse<String> res = parked.get(5, TimeUnit.SECONDS);
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(tookMillis >= 290 && tookMillis < 2000, "answered after " + tookMillis + " ms");
        assertEquals(idx, index(res));
        assertEquals(1, json(res).size());
    }

    @Test
    void aWaitOfZeroBlocksForTheDefaultAsConsulDoes() throws Exception {
        put(port, "/v1/agent/service/register", instance("b-1", "service-b", 9001));
        long idx = index(get(port, "/v1/health/service/service-b"));
        CompletableFuture<HttpResponse<String>> parked = getAsync(port, "/v1/health/service/service-b?index=" + idx + "&wait=0s");
        await("the query parked", 3000, () -> registry.catalog().parked() == 1 || parked.isDone());
        assertFalse(parked.isDone(), "wait=0s must not answer at once: a client would poll in a tight loop");
        put(port, "/v1/agent/service/register", instance("b-2", "service-b", 9002));
        assertTrue(index(parked.get(5, TimeUnit.SECONDS)) > idx);
    }

    /** Consul takes a negative {@code wait} (a Go duration) as none given: the query blocks for the default. */
    @Test
    void aNegativeWaitBlocksForTheDefaultAsConsulDoes() throws Exception {
        put(port, "/v1/agent/service/register", instance("b-1", "service-b", 9001));
        long idx = index(get(port, "/v1/health/service/service-b"));
        CompletableFuture<HttpResponse<String>> parked = getAsync(port, "/v1/health/service/service-b?index=" + idx + "&wait=-1s");
        await("the query parked", 3000, () -> registry.catalog().parked() == 1 || parked.isDone());
        assertFalse(parked.isDone(), "answered at once: " + (parked.isDone() ? parked.get().body() : ""));
        put(port, "/v1/agent/service/register", instance("b-2", "service-b", 9002));
        HttpResponse<String> res = parked.get(5, TimeUnit.SECONDS);
        assertEquals(200, res.statusCode());
        assertTrue(index(res) > idx);
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrderBehindABlockingQuery() {
        put(port, "/v1/agent/service/register", instance("b-1", "service-b", 9001));
        long idx = index(get(port, "/v1/health/service/service-b"));
        List<RawHttp.Response> answers = RawHttp.pipeline(port,
                "GET /v1/health/service/service-b?index=" + idx + "&wait=300ms HTTP/1.1\r\nHost: x\r\n\r\n"
                        + "GET /v1/catalog/services HTTP/1.1\r\nHost: x\r\n\r\n"
                        + "PUT /v1/agent/service/register HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n{x}", 3);
        assertEquals(200, answers.get(0).status());
        assertTrue(json(answers.get(0).body()).isArray(), "the blocking query's answer comes first: " + answers);
        assertEquals("b-1", json(answers.get(0).body()).get(0).get("Service").get("ID").asText());
        assertEquals("{\"service-b\":[]}", answers.get(1).body());
        assertEquals(400, answers.get(2).status());
    }

    @Test
    void aRequestPipelinedBehindConnectionCloseIsNotCarriedOut() throws Exception {
        String body = instance("b-1", "service-b", 9001);
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            s.getOutputStream().write(("GET /v1/catalog/services HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    + "PUT /v1/agent/service/register HTTP/1.1\r\nHost: x\r\nContent-Length: " + body.length() + "\r\n\r\n" + body)
                    .getBytes(StandardCharsets.UTF_8));
            String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(answer.startsWith("HTTP/1.1 200 ") && answer.endsWith("{}"), "one answer, then the close: " + answer);
        }
        assertEquals("{}", get(port, "/v1/catalog/services").body(), "RFC 9112 9.6: no request after a close is processed");
    }

    @Test
    void anAbsoluteFormTargetIsRoutedLikeItsPath() {
        put(port, "/v1/agent/service/register", instance("b-1", "service-b", 9001));
        RawHttp.Response catalog = RawHttp.exchange(port, "GET http://127.0.0.1:" + port
                + "/v1/catalog/services HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        assertEquals(200, catalog.status(), catalog.body());
        assertEquals("{\"service-b\":[]}", catalog.body());
        RawHttp.Response health = RawHttp.exchange(port, "GET HTTP://localhost/v1/health/service/service-b?passing=false"
                + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        assertEquals(200, health.status(), health.body());
        assertEquals("b-1", json(health.body()).get(0).get("Service").get("ID").asText());
        RawHttp.Response root = RawHttp.exchange(port, "GET http://localhost?x=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        assertEquals(404, root.status());
        assertEquals("no such endpoint: /\n", root.body());
    }

    @Test
    void anIndexFromAnEarlierIncarnationIsAnsweredAtOnce() throws Exception {
        put(port, "/v1/agent/service/register", instance("b-1", "service-b", 9001));
        HttpResponse<String> res = getAsync(port, "/v1/health/service/service-b?index=1000000&wait=10s").get(2, TimeUnit.SECONDS);
        assertTrue(index(res) < 1000000);
    }

    /**
     * Consul's parseWait reads {@code wait} and {@code index} on every read, blocking or not: an empty value is none
     * given, a bad {@code wait} is a 400 even without an index, and the index is an unsigned 64-bit number without a
     * sign. The stub refused {@code ?index=}, took {@code index=+5} and let a bad {@code wait} through without an index.
     */
    @Test
    void indexAndWaitAreReadAsConsulReadsThem() throws Exception {
        put(port, "/v1/agent/service/register", instance("b-1", "service-b", 9001));
        for (String q : new String[] {"?index=", "?index=&wait=", "?wait=", "?index=0&wait=", "?index=0&wait=1s"}) {
            HttpResponse<String> res = getAsync(port, "/v1/health/service/service-b" + q).get(2, TimeUnit.SECONDS);
            assertEquals(200, res.statusCode(), q + ": " + res.body());
            assertEquals(1, json(res).size(), q);
        }
        HttpResponse<String> beyond = getAsync(port, "/v1/catalog/services?index=18446744073709551615&wait=10s").get(2, TimeUnit.SECONDS);
        assertEquals(200, beyond.statusCode(), "the largest index Consul takes is beyond this registry's: answered at once");
        for (String q : new String[] {"?wait=soon", "?index=0&wait=soon", "?index=+5", "?index=-0", "?index=18446744073709551616", "?index= 5"}) {
            HttpResponse<String> res = get(port, "/v1/health/service/service-b" + q.replace(" ", "%20"));
            assertEquals(400, res.statusCode(), q + ": " + res.body());
            assertTrue(res.body().startsWith(q.contains("wait") ? "wait: " : "index: "), res.body());
        }
    }

    @Test
    void badRequestsAre400AndChangeNothing() {
        put(port, "/v1/agent/service/register", instance("b-1", "service-b", 9001));
        String catalog = get(port, "/v1/catalog/services").body();
        long idx = index(get(port, "/v1/catalog/services"));
        String[] bad = {
            "{not json",
            "[1,2]",
            "{\"ID\":\"x\",\"Address\":\"127.0.0.1\",\"Port\":1}",
            "{\"ID\":\"x\",\"Name\":\"s\",\"Port\":1}",
            "{\"ID\":\"x\",\"Name\":\"s\",\"Address\":\"127.0.0.1\",\"Port\":\"80\"}",
            "{\"ID\":\"x\",\"Name\":\"s\",\"Address\":\"127.0.0.1\",\"Port\":70000}",
            "{\"ID\":\"x\",\"Name\":7,\"Address\":\"127.0.0.1\",\"Port\":80}",
            "{\"ID\":\"a/b\",\"Name\":\"s\",\"Address\":\"127.0.0.1\",\"Port\":80}",
            "{\"ID\":\"x\",\"Name\":\"s\",\"Address\":\"127.0.0.1\",\"Port\":80,\"Check\":\"yes\"}",
            "{\"ID\":\"x\",\"Name\":\"s\",\"Address\":\"127.0.0.1\",\"Port\":80,\"Check\":{\"HTTP\":\"ftp://x/\",\"Interval\":\"1s\"}}",
            "{\"ID\":\"x\",\"Name\":\"s\",\"Address\":\"127.0.0.1\",\"Port\":80,\"Check\":{\"HTTP\":\"http://127.0.0.1:1/\"}}",
            "{\"ID\":\"x\",\"Name\":\"s\",\"Address\":\"127.0.0.1\",\"Port\":80,\"Check\":{\"HTTP\":\"http://127.0.0.1:1/\",\"Interval\":\"soon\"}}",
            instance("x", "s", 80) + " trailing",
            instance("x", "s", 80) + instance("y", "s", 81),
            "{\"Name\":\"a\",\"Name\":\"b\",\"Address\":\"127.0.0.1\",\"Port\":80}",
            "{\"Name\":\"a\",\"name\":\"b\",\"Address\":\"127.0.0.1\",\"Port\":80}",
            "{\"Name\":\"a\",\"Address\":\"127.0.0.1\",\"Port\":80,\"Check\":{\"HTTP\":\"http://127.0.0.1:1/\",\"Interval\":\"1s\",\"interval\":\"2s\"}}",
        };
        for (String body : bad) {
            HttpResponse<String> res = put(port, "/v1/agent/service/register", body);
            assertEquals(400, res.statusCode(), body);
            assertTrue(res.body().startsWith("Invalid registration: ") || res.body().contains("JSON"), res.body());
        }
        assertEquals(400, get(port, "/v1/health/service/service-b?index=abc").statusCode());
        assertEquals(400, get(port, "/v1/health/service/service-b?index=1&wait=forever").statusCode());
        assertEquals(405, get(port, "/v1/agent/service/register").statusCode());
        assertEquals(404, get(port, "/v1/nope").statusCode());
        assertEquals(catalog, get(port, "/v1/catalog/services").body());
        assertEquals(idx, index(get(port, "/v1/catalog/services")));
        assertEquals(1, registry.catalog().size());
    }

    @Test
    void badEscapesAre400WithAReason() {
        String[] requests = {
            "GET /v1/health/service/%zz HTTP/1.1\r\n",
            "GET /v1/health/service/service-b?index=%zz HTTP/1.1\r\n",
            "PUT /v1/agent/service/deregister/%7 HTTP/1.1\r\nContent-Length: 0\r\n",
        };
        for (String head : requests) {
            RawHttp.Response res = RawHttp.exchange(port, head + "Host: registry\r\nConnection: close\r\n\r\n");
            assertEquals(400, res.status(), head);
            assertTrue(res.body().startsWith("malformed request target: "), res.body());
        }
    }

    /**
     * A client that sends {@code Expect} may send its body without waiting for {@code 100 Continue}. After refusing
     * the expectation (413 for a body too large, 417 for another expectation) the stub read what followed as a new
     * request, so a body holding a request was served as one; now the connection closes after the refusal.
     */
    @Test
    void aRefusedExpectationClosesTheConnection() throws IOException {
        String body = instance("x-1", "service-x", 9001);
        String smuggled = "PUT /v1/agent/service/register HTTP/1.1\r\nHost: r\r\nContent-Length: " + body.length() + "\r\n\r\n" + body;
        String[] refused = {"Content-Length: 2000000\r\nExpect: 100-continue|413",
            "Content-Length: " + smuggled.length() + "\r\nExpect: something-else|417"};
        for (String headersAndStatus : refused) {
            String[] parts = headersAndStatus.split("\\|");
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(5000);
                s.getOutputStream().write(("PUT /v1/agent/service/register HTTP/1.1\r\nHost: r\r\n" + parts[0] + "\r\n\r\n" + smuggled)
                        .getBytes(StandardCharsets.UTF_8));
                RawHttp.Response res = RawHttp.read(s.getInputStream());
                assertEquals(Integer.parseInt(parts[1]), res.status(), parts[0]);
                assertEquals("close", res.header("connection"), parts[0]);
                assertEquals(-1, s.getInputStream().read(), parts[0] + ": the connection closes, nothing more is answered");
            }
        }
        assertEquals("{}", get(port, "/v1/catalog/services").body(), "the body's request was not served");
    }

    @Test
    void limitsAndWrongMethodsAnswerWithReasons() {
        HttpResponse<String> tooLarge = put(port, "/v1/agent/service/register", "x".repeat(2 << 20));
        assertEquals(413, tooLarge.statusCode());
        assertTrue(tooLarge.body().startsWith("request body too large (expected: at most 1048576 bytes)"), tooLarge.body());
        assertEquals(200, put(port, "/v1/agent/service/register", instance("b-1", "service-b", 9001)).statusCode(),
                "the registry still answers");

        RawHttp.Response refusedUpFront = RawHttp.exchange(port, "PUT /v1/agent/service/register HTTP/1.1\r\nHost: r\r\n"
                + "Content-Length: 2000000\r\nExpect: 100-continue\r\n\r\n");
        assertEquals(413, refusedUpFront.status());
        assertTrue(refusedUpFront.body().startsWith("request body too large"), "with Expect: 100-continue too: " + refusedUpFront.body());

        RawHttp.Response oddExpectation = RawHttp.exchange(port, "PUT /v1/agent/service/register HTTP/1.1\r\nHost: r\r\n"
                + "Content-Length: 2\r\nExpect: something-else\r\nConnection: close\r\n\r\n{}");
        assertEquals(417, oddExpectation.status());
        assertEquals("expectation not supported: something-else (expected: 100-continue)\n", oddExpectation.body(),
                "names the expectation it refuses");

        HttpResponse<String> wrongMethod = get(port, "/v1/agent/service/register");
        assertEquals(405, wrongMethod.statusCode());
        assertEquals("OPTIONS,PUT", wrongMethod.headers().firstValue("Allow").orElse(null), "as Consul's");
        assertEquals("OPTIONS,GET", put(port, "/v1/catalog/services", "").headers().firstValue("Allow").orElse(null));

        RawHttp.Response longUri = RawHttp.exchange(port, "GET /v1/health/service/" + "a".repeat(10_000)
                + " HTTP/1.1\r\nHost: r\r\n\r\n");
        assertEquals(414, longUri.status());
        assertTrue(longUri.body().startsWith("request line too long"), longUri.body());
        RawHttp.Response bigHeaders = RawHttp.exchange(port, "GET /v1/catalog/services HTTP/1.1\r\nHost: r\r\nX-Big: "
                + "b".repeat(20_000) + "\r\n\r\n");
        assertEquals(431, bigHeaders.status());
        assertTrue(bigHeaders.body().startsWith("header block too large"), bigHeaders.body());
    }

    /** Consul's HTTP server answers {@code OPTIONS} on each endpoint with {@code 200} and the methods it takes. */
    @Test
    void optionsIsAnsweredWithTheAllowedMethodsAsConsulDoes() {
        String[][] endpoints = {
            {"/v1/agent/service/register", "OPTIONS,PUT"},
            {"/v1/agent/service/deregister/b-1", "OPTIONS,PUT"},
            {"/v1/health/service/service-b", "OPTIONS,GET"},
            {"/v1/catalog/services", "OPTIONS,GET"},
        };
        for (String[] e : endpoints) {
            RawHttp.Response res = RawHttp.exchange(port, "OPTIONS " + e[0] + " HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n");
            assertEquals(200, res.status(), e[0] + ": " + res.body());
            assertEquals(e[1], res.header("allow"), e[0]);
            assertEquals("", res.body(), e[0]);
        }
        assertEquals("{}", get(port, "/v1/catalog/services").body(), "nothing registered or removed");
    }

    @Test
    void namesAndIdsAreDecodedExactlyOnce() {
        assertEquals(200, put(port, "/v1/agent/service/register", instance("p%41", "p%41", 9001)).statusCode());
        assertEquals(200, put(port, "/v1/agent/service/register", instance("pA", "pA", 9002)).statusCode());
        assertEquals(200, put(port, "/v1/agent/service/register", instance("x+y", "a/b", 9003)).statusCode());

        JsonNode list = json(get(port, "/v1/health/service/p%2541"));
        assertEquals(1, list.size());
        assertEquals("p%41", list.get(0).path("Service").path("Service").asText());
        assertEquals(9002, json(get(port, "/v1/health/service/p%41")).get(0).path("Service").path("Port").asInt());
        assertEquals(9003, json(get(port, "/v1/health/service/a%2Fb")).get(0).path("Service").path("Port").asInt(),
                "an escaped '/' is part of the name");

        assertEquals(200, put(port, "/v1/agent/service/deregister/p%2541", "").statusCode());
        assertEquals("[]", get(port, "/v1/health/service/p%2541").body());
        assertEquals(1, json(get(port, "/v1/health/service/pA")).size());
        assertEquals(200, put(port, "/v1/agent/service/deregister/x+y", "").statusCode(), "'+' in a path is a plus");
    }

    @Test
    void thousandInstancesInHundredServices() throws Exception {
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        java.net.http.HttpClient client = java.net.http.HttpClient.newBuilder().proxy(java.net.http.HttpClient.Builder.NO_PROXY).build();
        for (int s = 0; s < 100; s++) {
            for (int i = 0; i < 10; i++) {
                java.net.http.HttpRequest req = java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + port + "/v1/agent/service/register"))
                        .PUT(java.net.http.HttpRequest.BodyPublishers.ofString(instance("svc" + s + "-" + i, "svc" + s, 10_000 + s * 10 + i))).build();
                all.add(client.sendAsync(req, java.net.http.HttpResponse.BodyHandlers.ofString()));
            }
            if (all.size() >= 200) { // keep at most a few hundred requests in flight
                for (CompletableFuture<HttpResponse<String>> f : all) {
                    assertEquals(200, f.get(10, TimeUnit.SECONDS).statusCode());
                }
                all.clear();
            }
        }
        for (CompletableFuture<HttpResponse<String>> f : all) {
            assertEquals(200, f.get(10, TimeUnit.SECONDS).statusCode());
        }
        assertEquals(1000, registry.catalog().size());
        JsonNode catalog = json(get(port, "/v1/catalog/services"));
        assertEquals(100, catalog.size());
        for (int s = 0; s < 100; s++) {
            JsonNode list = json(get(port, "/v1/health/service/svc" + s + "?passing=true"));
            assertEquals(10, list.size(), "svc" + s);
            java.util.Set<Integer> ports = new java.util.TreeSet<>();
            list.forEach(e -> ports.add(e.path("Service").path("Port").asInt()));
            assertEquals(10, ports.size());
            assertEquals(10_000 + s * 10, ports.iterator().next()); // registered concurrently: order is arrival order
        }
    }

    @Test
    void seedFileInstancesArePassingWithoutChecks() throws Exception {
        java.nio.file.Path seed = java.nio.file.Files.createTempFile("registry", ".json");
        java.nio.file.Files.writeString(seed, "{\"services\":{\"service-b\":[{\"host\":\"10.0.1.1\",\"port\":8080}]}}");
        try (RegistryServer seeded = RegistryServer.start("127.0.0.1", 0, RegistryServer.readSeed(seed))) {
            JsonNode list = json(get(seeded.port(), "/v1/health/service/service-b?passing=true"));
            assertEquals("service-b-10.0.1.1-8080", list.get(0).path("Service").path("ID").asText());
        } finally {
            java.nio.file.Files.delete(seed);
        }
        java.nio.file.Path badSeed = java.nio.file.Files.createTempFile("registry", ".json");
        java.nio.file.Files.writeString(badSeed, "{\"services\":{\"service-b\":[{\"host\":\"10.0.1.1\"}]}}");
        try {
            java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class, () -> RegistryServer.readSeed(badSeed));
            assertTrue(e.getMessage().contains("services.service-b[0]"), e.getMessage());
        } finally {
            java.nio.file.Files.delete(badSeed);
        }
    }

    /** Registers b-1 of service-b at {@code svcPort} on 127.0.0.1, checked at its /health every 50 ms within {@code timeout}. */
    private void registerChecked(int svcPort, String timeout) throws Exception {
        put(port, "/v1/agent/service/register", "{\"ID\":\"b-1\",\"Name\":\"service-b\",\"Address\":\"127.0.0.1\",\"Port\":" + svcPort
                + ",\"Check\":{\"HTTP\":\"http://127.0.0.1:" + svcPort + "/health\",\"Interval\":\"50ms\",\"Timeout\":\"" + timeout + "\"}}");
    }
}

package io.outrigger.http;

import io.outrigger.Sidecar;
import io.outrigger.SidecarContext;
import io.outrigger.config.ConfigLoader;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.resilience.CircuitBreaker;
import io.outrigger.time.Ticker;
import io.outrigger.trace.TraceParent;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static io.outrigger.http.SidecarHarness.raw;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The inbound listener forwards every request to the local app, with the same trace and breaker code as outbound. */
class InboundListenerTest {
    @TempDir
    Path dir;

    /** A started sidecar with one inbound listener in front of {@code app}, and no services in its registry. */
    private Sidecar inboundTo(TestUpstream app) throws Exception {
        Path registry = SidecarHarness.registry(dir, "");
        SidecarConfig cfg = ConfigLoader.parse("name: sidecar-a\nservice: service-a\nregistry: file:" + registry + "\n"
                + "listeners:\n  inbound: { port: 0, app: 127.0.0.1:" + app.port() + " }\n", "test");
        Sidecar sidecar = new Sidecar(new SidecarContext(cfg, FileRegistry.load(registry), Ticker.system()));
        sidecar.start();
        return sidecar;
    }

    @Test
    void forwardsToLocalAppWithTraceHeaders() throws Exception {
        try (TestUpstream app = new TestUpstream()) {
            try (Sidecar sidecar = inboundTo(app)) {
                int port = sidecar.boundPorts().get("inbound");

                String res = raw(port, "GET /orders/7 HTTP/1.1\r\nHost: service-a\r\nx-request-id: abc\r\n"
                        + "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\nConnection: close\r\n\r\n");

                assertTrue(res.startsWith("HTTP/1.1 200"), res);
                TestUpstream.Seen seen = app.requests.poll();
                assertNotNull(seen);
                assertEquals("/orders/7", seen.uri());
                assertEquals("abc", seen.headers().get("x-request-id"));
                assertEquals("0af7651916cd43dd8448eb211c80319c", TraceParent.parse(seen.headers().get("traceparent")).traceId());
                CircuitBreaker breaker = sidecar.context().breakers().find("service-a/127.0.0.1:" + app.port());
                assertNotNull(breaker, "the app's instance breaker judged the attempt");
                assertEquals(CircuitBreaker.State.CLOSED, breaker.state());
            }
        }
    }

    /**
     * An HTTP/1.0 caller may leave {@code Host} out, but the app gets HTTP/1.1, which must carry one (RFC 9112 3.2;
     * Go's and nginx's servers answer 400 without it): the app's own address is sent then, and a caller's Host kept.
     */
    @Test
    void anHttp10RequestWithoutHostReachesTheAppWithTheAppsAddressAsHost() throws Exception {
        try (TestUpstream app = new TestUpstream()) {
            try (Sidecar sidecar = inboundTo(app)) {
                int port = sidecar.boundPorts().get("inbound");

                assertTrue(raw(port, "GET /health HTTP/1.0\r\n\r\n").startsWith("HTTP/1.1 200"));
                assertTrue(raw(port, "GET /kept HTTP/1.0\r\nHost: service-a\r\n\r\n").startsWith("HTTP/1.1 200"));

                TestUpstream.Seen seen = app.requests.poll();
                assertNotNull(seen);
                assertEquals("/health", seen.uri());
                assertEquals(List.of("127.0.0.1:" + app.port()), seen.headers().getAll("host"));
                assertEquals(List.of("service-a"), app.requests.poll().headers().getAll("host"));
            }
        }
    }

    /** RFC 9112 5.1: whitespace between a field name and its colon is a 400, and nothing reaches the app. */
    @Test
    void whitespaceBeforeTheColonIs400AndNothingReachesTheApp() throws Exception {
        try (TestUpstream app = new TestUpstream()) {
            try (Sidecar sidecar = inboundTo(app)) {
                int port = sidecar.boundPorts().get("inbound");
                for (String line : new String[] {"Bad : x", "Bad\t: x"}) {
                    String res = raw(port, "GET /x HTTP/1.1\r\nHost: service-a\r\n" + line + "\r\n\r\n");
                    assertTrue(res.startsWith("HTTP/1.1 400"), res);
                    assertTrue(res.endsWith("\r\n\r\n{\"error\": \"malformed request\", \"service\": null}\n"), res);
                }
                assertTrue(raw(port, "GET /ok HTTP/1.1\r\nHost: service-a\r\nConnection: close\r\n\r\n").startsWith("HTTP/1.1 200"));
                assertEquals(1, app.requestCount(), "only the valid request reached the app");
                assertEquals("/ok", app.requests.poll().uri());
            }
        }
    }

    @Test
    void doesNotRetryTheAppsOwnFailureAnswers() throws Exception {
        assertTheAppGetsOneAttempt(app -> app.status = 503, "HTTP/1.1 503");
    }

    /** Nor an app that closes the connection under a request it read: its caller's sidecar retries that too (3 x 3 attempts). */
    @Test
    void doesNotRetryAnAppThatClosesUnderTheRequest() throws Exception {
        assertTheAppGetsOneAttempt(app -> app.closeBeforeResponse = true, "HTTP/1.1 502");
    }

    private void assertTheAppGetsOneAttempt(java.util.function.Consumer<TestUpstream> failing, String answer) throws Exception {
        try (TestUpstream app = new TestUpstream()) {
            failing.accept(app);
            Path registry = SidecarHarness.registry(dir, "");
            SidecarConfig cfg = ConfigLoader.parse("name: sidecar-b\nservice: service-b\nregistry: file:" + registry + "\n"
                    + "listeners:\n  inbound: { port: 0, app: 127.0.0.1:" + app.port() + " }\n", "test");
            SidecarContext context = new SidecarContext(cfg, FileRegistry.load(registry), Ticker.system());
            try (Sidecar sidecar = new Sidecar(context)) {
                sidecar.start();
                int port = sidecar.boundPorts().get("inbound");

                String res = raw(port, "GET /x HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n");

                assertTrue(res.startsWith(answer), res);
                assertEquals(1, app.requestCount(), "the caller's sidecar retries; the inbound side must not multiply attempts");
            }
        }
    }

    /**
     * An app that calls its own service through its sidecar reaches the service's other instances: the
     * local app failing on the inbound edge opens the app's breaker, not the service's, so those calls go on.
     */
    @Test
    void theLocalAppFailingDoesNotCloseItsServiceToOutboundCalls() throws Exception {
        try (TestUpstream app = new TestUpstream(); TestUpstream other = new TestUpstream()) {
            app.status = 500;
            Path registry = SidecarHarness.registry(dir, "\"service-a\": [" + SidecarHarness.instance(other.port()) + "]");
            SidecarConfig cfg = ConfigLoader.parse("name: sidecar-a\nservice: service-a\nregistry: file:" + registry + "\n"
                    + "listeners:\n  inbound: { port: 0, app: 127.0.0.1:" + app.port() + " }\n  outbound: { port: 0 }\n"
                    + "resilience:\n  breaker: { failure_threshold: 3, open_ms: 60000 }\n", "test");
            SidecarContext context = new SidecarContext(cfg, FileRegistry.load(registry), Ticker.system());
            try (Sidecar sidecar = new Sidecar(context)) {
                sidecar.start();
                int inbound = sidecar.boundPorts().get("inbound");
                int outbound = sidecar.boundPorts().get("outbound");
                for (int i = 0; i < 3; i++) {
                    String res = raw(inbound, "GET /x HTTP/1.1\r\nHost: service-a\r\nConnection: close\r\n\r\n");
                    assertTrue(res.startsWith("HTTP/1.1 500"), res);
                }
                assertEquals(CircuitBreaker.State.OPEN,
                        context.breakers().forInstance("service-a", new io.outrigger.discovery.Endpoint("127.0.0.1", app.port())).state());
                String fast = raw(inbound, "GET /x HTTP/1.1\r\nHost: service-a\r\nConnection: close\r\n\r\n");
                assertTrue(fast.startsWith("HTTP/1.1 503"), "the app's breaker fails fast: " + fast);

                String res = raw(outbound, "GET /y HTTP/1.1\r\nHost: service-a\r\nConnection: close\r\n\r\n");
                assertTrue(res.startsWith("HTTP/1.1 200"), "service-a's other instance still serves: " + res);
                assertEquals(1, other.requestCount());
                assertEquals(CircuitBreaker.State.CLOSED, context.breakers().forService("service-a").state());
            }
        }
    }

    /**
     * A connect failure that opens the app's breaker ends the request at once with its 502: no retry could
     * be let through, so none is waited for. The inbound edge asked only its own service breaker, which never
     * opens, and answered only after the backoff (here 10 s).
     */
    @Test
    void aFailureThatOpensTheAppsBreakerIsAnsweredWithoutWaitingTheBackoff() throws Exception {
        Path registry = SidecarHarness.registry(dir, "");
        int closed = SidecarHarness.closedPort();
        SidecarConfig cfg = ConfigLoader.parse("name: sidecar-a\nservice: service-a\nregistry: file:" + registry + "\n"
                + "listeners:\n  inbound: { port: 0, app: 127.0.0.1:" + closed + " }\n"
                + "resilience:\n  breaker: { failure_threshold: 1, open_ms: 60000 }\n"
                + "  retry: { max_retries: 2, base_ms: 10000, max_ms: 10000, jitter: none }\n"
                + "  timeouts: { request_ms: 60000 }\n", "test");
        SidecarContext context = new SidecarContext(cfg, FileRegistry.load(registry), Ticker.system());
        try (Sidecar sidecar = new Sidecar(context)) {
            sidecar.start();
            int port = sidecar.boundPorts().get("inbound");

            long start = System.nanoTime();
            String res = raw(port, "GET /x HTTP/1.1\r\nHost: service-a\r\nConnection: close\r\n\r\n");
            long millis = (System.nanoTime() - start) / 1_000_000;

            assertTrue(res.startsWith("HTTP/1.1 502"), res);
            assertTrue(millis < 5_000, "answered at once, not after the 10 s backoff: " + millis + " ms");
            assertEquals(CircuitBreaker.State.OPEN, sidecar.context().breakers().find("service-a/127.0.0.1:" + closed).state());
        }
    }
}

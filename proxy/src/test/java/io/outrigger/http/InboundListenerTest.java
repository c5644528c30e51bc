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

import static io.outrigger.http.SidecarHarness.raw;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The inbound listener forwards every request to the local app, with the same trace and breaker code as outbound. */
class InboundListenerTest {
    @TempDir
    Path dir;

    @Test
    void forwardsToLocalAppWithTraceHeaders() throws Exception {
        try (TestUpstream app = new TestUpstream()) {
            Path registry = SidecarHarness.registry(dir, "");
            SidecarConfig cfg = ConfigLoader.parse("name: sidecar-a\nservice: service-a\nregistry: file:" + registry + "\n"
                    + "listeners:\n  inbound: { port: 0, app: 127.0.0.1:" + app.port() + " }\n", "test");
            SidecarContext context = new SidecarContext(cfg, FileRegistry.load(registry), Ticker.system());
            try (Sidecar sidecar = new Sidecar(context)) {
                sidecar.start();
                int port = sidecar.boundPorts().get("inbound");

                String res = raw(port, "GET /orders/7 HTTP/1.1\r\nHost: service-a\r\nx-request-id: abc\r\n"
                        + "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\nConnection: close\r\n\r\n");

                assertTrue(res.startsWith("HTTP/1.1 200"), res);
                TestUpstream.Seen seen = app.requests.poll();
                assertNotNull(seen);
                assertEquals("/orders/7", seen.uri());
                assertEquals("abc", seen.headers().get("x-request-id"));
                assertEquals("0af7651916cd43dd8448eb211c80319c", TraceParent.parse(seen.headers().get("traceparent")).traceId());
                CircuitBreaker breaker = context.breakers().find("service-a/127.0.0.1:" + app.port());
                assertNotNull(breaker, "the app's instance breaker judged the attempt");
                assertEquals(CircuitBreaker.State.CLOSED, breaker.state());
            }
        }
    }

    @Test
    void doesNotRetryTheAppsOwnFailureAnswers() throws Exception {
        try (TestUpstream app = new TestUpstream()) {
            app.status = 503;
            Path registry = SidecarHarness.registry(dir, "");
            SidecarConfig cfg = ConfigLoader.parse("name: sidecar-b\nservice: service-b\nregistry: file:" + registry + "\n"
                    + "listeners:\n  inbound: { port: 0, app: 127.0.0.1:" + app.port() + " }\n", "test");
            SidecarContext context = new SidecarContext(cfg, FileRegistry.load(registry), Ticker.system());
            try (Sidecar sidecar = new Sidecar(context)) {
                sidecar.start();
                int port = sidecar.boundPorts().get("inbound");

                String res = raw(port, "GET /x HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n");

                assertTrue(res.startsWith("HTTP/1.1 503"), res);
                assertEquals(1, app.requestCount(), "the caller's sidecar retries; the inbound side must not multiply attempts");
            }
        }
    }
}

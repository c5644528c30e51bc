package io.outrigger.http;

import io.outrigger.testing.Closer;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static io.outrigger.http.SidecarHarness.raw;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Max-Forwards (RFC 9110 7.6.2): OPTIONS and TRACE with no hop left are answered by the sidecar, others go on one hop poorer. */
class MaxForwardsTest {
    @TempDir
    Path dir;

    @AutoClose
    private final Closer closeables = new Closer();
    private TestUpstream upstream;
    private int port;

    @BeforeEach
    void start() throws Exception {
        upstream = closeables.add(new TestUpstream());
        port = SidecarHarness.outboundTo(upstream, dir, closeables);
    }

    /** The first request the upstream saw is {@code marker}'s: whatever came before it was not forwarded. */
    private void assertNothingForwardedBefore(String marker) throws Exception {
        assertTrue(raw(port, "GET /" + marker + " HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n").startsWith("HTTP/1.1 200"));
        assertEquals("/" + marker, upstream.requests.poll().uri());
    }

    @Test
    void optionsWithNoHopLeftIsAnsweredHere() throws Exception {
        String res = raw(port, "OPTIONS * HTTP/1.1\r\nHost: service-b\r\nMax-Forwards: 0\r\nConnection: close\r\n\r\n");
        assertTrue(res.startsWith("HTTP/1.1 200"), res);
        assertTrue(res.contains("allow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE\r\n"), res);
        assertTrue(res.contains("x-request-id: "), res);
        assertNothingForwardedBefore("marker");
    }

    /** Answered here or not, the exchange counts under the service it named when the registry lists it, as a forwarded one does. */
    @Test
    void anAnswerGivenHereIsCountedUnderTheServiceItNamed() throws Exception {
        java.util.concurrent.BlockingQueue<String> services = new java.util.concurrent.LinkedBlockingQueue<>();
        io.outrigger.metrics.ProxyMetrics recording = new io.outrigger.metrics.ProxyMetrics() {
            @Override
            public void onExchange(String edge, String service, io.outrigger.discovery.Endpoint instance, int status, int attempts,
                                   long durationNanos) {
                services.add(service + " " + status);
            }
        };
        Path registry = SidecarHarness.registry(dir, "\"service-b\": [" + SidecarHarness.instance(upstream.port()) + "]");
        int recordingPort = closeables.add(SidecarHarness.startReportingTo(registry, recording)).boundPorts().get("outbound");
        assertTrue(raw(recordingPort, "OPTIONS * HTTP/1.1\r\nHost: service-b\r\nMax-Forwards: 0\r\nConnection: close\r\n\r\n").startsWith("HTTP/1.1 200"));
        assertEquals("service-b 200", services.poll(5, java.util.concurrent.TimeUnit.SECONDS));
        assertTrue(raw(recordingPort, "OPTIONS * HTTP/1.1\r\nHost: service-x\r\nMax-Forwards: 0\r\nConnection: close\r\n\r\n").startsWith("HTTP/1.1 200"));
        assertEquals("unknown 200", services.poll(5, java.util.concurrent.TimeUnit.SECONDS), "a name the registry does not list is no label");
    }

    @Test
    void traceWithNoHopLeftEchoesTheHeadWithoutCredentials() throws Exception {
        String res = raw(port, "TRACE /x HTTP/1.1\r\nHost: service-b\r\nMax-Forwards: 0\r\nX-Probe: one\r\n"
                + "Cookie: session=secret\r\nAuthorization: Basic c2VjcmV0\r\nConnection: close\r\n\r\n");
        assertTrue(res.startsWith("HTTP/1.1 200"), res);
        assertTrue(res.contains("content-type: message/http\r\n"), res);
        String body = res.substring(res.indexOf("\r\n\r\n") + 4);
        assertTrue(body.startsWith("TRACE /x HTTP/1.1\r\n"), body);
        assertTrue(body.contains("X-Probe: one\r\n"), body);
        assertFalse(body.contains("secret") || body.contains("c2VjcmV0"), body);
        assertNothingForwardedBefore("marker");
    }

    @Test
    void aHopLeftGoesOnWithTheCountLowered() throws Exception {
        assertTrue(raw(port, "OPTIONS /x HTTP/1.1\r\nHost: service-b\r\nMax-Forwards: 3\r\nConnection: close\r\n\r\n").startsWith("HTTP/1.1 200"));
        assertEquals("2", upstream.requests.poll().headers().get("max-forwards"));
    }

    @Test
    void otherMethodsAndBadValuesPassUntouched() throws Exception {
        assertTrue(raw(port, "GET /x HTTP/1.1\r\nHost: service-b\r\nMax-Forwards: 0\r\nConnection: close\r\n\r\n").startsWith("HTTP/1.1 200"));
        assertEquals("0", upstream.requests.poll().headers().get("max-forwards"), "only OPTIONS and TRACE heed it");
        assertTrue(raw(port, "TRACE /x HTTP/1.1\r\nHost: service-b\r\nMax-Forwards: zero\r\nConnection: close\r\n\r\n").startsWith("HTTP/1.1 200"));
        assertEquals("zero", upstream.requests.poll().headers().get("max-forwards"), "not a number: not ours to read");
    }
}

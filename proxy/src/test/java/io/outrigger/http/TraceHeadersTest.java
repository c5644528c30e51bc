package io.outrigger.http;

import io.outrigger.testing.Closer;
import io.outrigger.trace.TraceParent;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.outrigger.http.SidecarHarness.raw;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The W3C Trace Context rules at their edges, and one x-request-id per request, as the upstream sees them. */
class TraceHeadersTest {
    private static final String TRACE = "0af7651916cd43dd8448eb211c80319c";
    private static final String VALID = "00-" + TRACE + "-b7ad6b7169203331-01";

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

    private TestUpstream.Seen send(String headers) throws Exception {
        String res = raw(port, "GET / HTTP/1.1\r\nHost: service-b\r\n" + headers + "Connection: close\r\n\r\n");
        assertTrue(res.startsWith("HTTP/1.1 200"), res);
        return upstream.requests.poll();
    }

    @Test
    void tracestateGoesOnlyWithTheTraceItBelongsTo() throws Exception {
        assertEquals("congo=x", send("traceparent: " + VALID + "\r\ntracestate: congo=x\r\n").headers().get("tracestate"),
                "continued trace: its tracestate goes on");
        assertNull(send("tracestate: congo=x\r\n").headers().get("tracestate"), "no traceparent: a tracestate is discarded");
        assertNull(send("traceparent: 00-" + TRACE.toUpperCase() + "-b7ad6b7169203331-01\r\ntracestate: congo=x\r\n")
                .headers().get("tracestate"), "an invalid traceparent restarts the trace without its tracestate");
    }

    @Test
    void twoTraceparentsStartANewTrace() throws Exception {
        TestUpstream.Seen seen = send("traceparent: " + VALID + "\r\ntraceparent: 00-11111111111111111111111111111111-2222222222222222-01\r\n");
        TraceParent sent = TraceParent.parse(seen.headers().get("traceparent"));
        assertNotEquals(TRACE, sent.traceId());
        assertNotEquals("11111111111111111111111111111111", sent.traceId());
        assertEquals(1, seen.headers().getAll("traceparent").size());
    }

    @Test
    void reservedTraceFlagsAreNotPassedOn() throws Exception {
        TraceParent sent = TraceParent.parse(send("traceparent: 00-" + TRACE + "-b7ad6b7169203331-ff\r\n").headers().get("traceparent"));
        assertEquals(TRACE, sent.traceId());
        assertEquals(0x01, sent.flags(), "sampled kept, the reserved bits zero");
    }

    @Test
    void oneRequestIdGoesOnAndComesBack() throws Exception {
        String res = raw(port, "GET / HTTP/1.1\r\nHost: service-b\r\nx-request-id: aaa\r\nx-request-id: bbb\r\nConnection: close\r\n\r\n");
        assertTrue(res.contains("x-request-id: aaa\r\n"), res);
        assertEquals(List.of("aaa"), upstream.requests.poll().headers().getAll("x-request-id"),
                "the upstream sees the id the caller and the access log see, once");
    }

    /**
     * Trace fields in a trailer section do not go on, either way: the head carries this hop's ids, and a
     * trailer copy (the caller's, or the instance's) would give the next hop a second, contradicting trace.
     */
    @Test
    void traceFieldsInTrailersDoNotGoOn() throws Exception {
        String other = "00-11111111111111111111111111111111-2222222222222222-01";
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            CompletableFuture<List<String>> requestTrailers = SidecarHarness.recordRequestTrailers(server,
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                    + "2\r\nok\r\n0\r\nX-Sum: 42\r\ntraceparent: " + other + "\r\nx-request-id: instance-id\r\n"
                    + "tracestate: v=1\r\n\r\n");
            int sidecar = SidecarHarness.outboundTo(server.getLocalPort(), dir, closeables);

            String res = raw(sidecar, "POST / HTTP/1.1\r\nHost: service-b\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
                    + "traceparent: " + VALID + "\r\nx-request-id: req-1\r\n\r\n"
                    + "3\r\nabc\r\n0\r\nX-Req-Sum: 7\r\ntraceparent: " + other + "\r\nx-request-id: trailer-id\r\n"
                    + "tracestate: v=2\r\n\r\n");

            assertEquals(List.of("x-req-sum: 7"), requestTrailers.get(5, TimeUnit.SECONDS));
            assertTrue(res.startsWith("HTTP/1.1 200"), res);
            assertTrue(res.contains("x-request-id: req-1\r\n"), res);
            assertEquals("X-Sum: 42\r\n\r\n", res.substring(res.indexOf("\r\n0\r\n") + 5), res);
        }
    }
}

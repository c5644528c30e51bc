package io.outrigger.http;

import io.outrigger.testing.Closer;
import io.outrigger.trace.TraceParent;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

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
        assertEquals(java.util.List.of("aaa"), upstream.requests.poll().headers().getAll("x-request-id"),
                "the upstream sees the id the caller and the access log see, once");
    }
}

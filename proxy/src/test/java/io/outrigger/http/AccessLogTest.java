package io.outrigger.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.outrigger.discovery.Endpoint;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AccessLogTest {

    /** Collects what the writer thread writes; read it after {@link AccessLog#close()}. */
    private static class Sink extends OutputStream {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public synchronized void write(int b) {
            bytes.write(b);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            bytes.write(b, off, len);
        }

        synchronized String[] lines() {
            String s = bytes.toString(StandardCharsets.UTF_8);
            return s.isEmpty() ? new String[0] : s.split("\n", -1);
        }
    }

    @Test
    void writesOnePlainJsonLinePerRequestAndFlushesOnClose() throws Exception {
        Sink sink = new Sink();
        AccessLog log = new AccessLog(sink, 16, "test-access-log");
        assertTrue(log.log("outbound", "4bf92f3577b34da6a3ce929d0e0e4736", "r-1", "GET", "/a\"b\\c\u0001é", "service-b",
                new Endpoint("127.0.0.1", 9001), 200, 1, 1_204_000));
        assertTrue(log.log("outbound", null, null, null, null, null, null, 400, 0, 0));
        log.close();

        String[] lines = sink.lines();
        assertEquals(3, lines.length, "two lines, each ended by a newline");
        assertEquals("", lines[2]);
        assertEquals("{\"edge\": \"outbound\", \"trace_id\": \"4bf92f3577b34da6a3ce929d0e0e4736\", \"request_id\": \"r-1\", "
                + "\"method\": \"GET\", \"path\": \"/a\\\"b\\\\c\\u0001é\", \"service\": \"service-b\", \"instance\": \"127.0.0.1:9001\", "
                + "\"status\": 200, \"attempts\": 1, \"duration_ms\": 1.204}", lines[0]);
        assertEquals("{\"edge\": \"outbound\", \"trace_id\": null, \"request_id\": null, \"method\": null, \"path\": null, "
                + "\"service\": null, \"instance\": null, \"status\": 400, \"attempts\": 0, \"duration_ms\": 0.000}", lines[1]);
        JsonNode first = new ObjectMapper().readTree(lines[0]);
        assertEquals("/a\"b\\c\u0001é", first.get("path").asText());
        assertFalse(log.log("outbound", null, null, null, null, null, null, 200, 1, 0), "closed: dropped");
    }

    /**
     * What a closing sidecar (and the JVM's shutdown hook) relies on: waiting returns once every
     * line logged before it is on the stream, without closing the log, so a request that a drain
     * finishes afterwards is still written.
     */
    @Test
    void awaitWrittenReturnsOnceEarlierLinesAreOutAndTheLogKeepsTakingLines() throws Exception {
        Sink sink = new Sink();
        AccessLog log = new AccessLog(sink, 1024, "test-access-log");
        try {
            for (int i = 0; i < 300; i++) {
                assertTrue(log.log("inbound", null, "r-" + i, "GET", "/", "app", null, 200, 1, 0));
            }
            assertTrue(log.awaitWritten(5_000), "300 lines written within 5 s");
            String[] lines = sink.lines();
            assertEquals(301, lines.length, "300 lines, each ended by a newline, before awaitWritten returned");
            assertTrue(lines[299].contains("\"request_id\": \"r-299\""), lines[299]);

            assertTrue(log.log("inbound", null, "late", "GET", "/", "app", null, 200, 1, 0), "still open after awaitWritten");
            assertTrue(log.awaitWritten(5_000));
            assertTrue(sink.lines()[300].contains("\"request_id\": \"late\""), "the late line is written too");
        } finally {
            log.close();
        }
    }

    @Test
    void aFullQueueDropsAndCountsInsteadOfBlocking() throws Exception {
        CountDownLatch writing = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Sink sink = new Sink() {
            @Override
            public void write(byte[] b, int off, int len) {
                writing.countDown();
                try {
                    release.await(10, TimeUnit.SECONDS); // a stalled stderr (a full pipe nobody reads)
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                super.write(b, off, len);
            }
        };
        int capacity = 4;
        AccessLog log = new AccessLog(sink, capacity, "test-access-log");
        try {
            assertTrue(log.log("outbound", null, "r-0", "GET", "/", "s", null, 200, 1, 0));
            assertTrue(writing.await(5, TimeUnit.SECONDS), "the writer took the first line and is stuck writing it");
            for (int i = 1; i <= capacity; i++) {
                assertTrue(log.log("outbound", null, "r-" + i, "GET", "/", "s", null, 200, 1, 0), "line " + i + " fits");
            }
            long start = System.nanoTime();
            assertFalse(log.log("outbound", null, "r-x", "GET", "/", "s", null, 200, 1, 0));
            assertFalse(log.log("outbound", null, "r-y", "GET", "/", "s", null, 200, 1, 0));
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(1), "dropping never waits");
            assertEquals(2, log.dropped());
        } finally {
            release.countDown();
            log.close();
        }
        String[] lines = sink.lines();
        assertEquals(1 + capacity + 1, lines.length, "every accepted line written, the dropped ones not");
        for (int i = 0; i <= capacity; i++) {
            assertTrue(lines[i].contains("\"request_id\": \"r-" + i + "\""), lines[i]);
        }
    }

    @Test
    void linesFromAnEventLoopAreBatchedPerTurnAndKeepTheirOrder() throws Exception {
        Sink sink = new Sink();
        AccessLog log = new AccessLog(sink, 100_000, "test-access-log");
        io.netty.channel.EventLoopGroup group = new io.netty.channel.MultiThreadIoEventLoopGroup(1,
                io.netty.channel.nio.NioIoHandler.newFactory());
        int lines = AccessLog.BATCH * 3 + 7; // full batches handed over at once, and a partial one at the end of the turn
        try {
            io.netty.channel.EventLoop loop = group.next();
            loop.submit(() -> {
                for (int i = 0; i < lines; i++) {
                    assertTrue(log.log(loop, "outbound", null, "r-" + i, "GET", "/", "s", null, 200, 1, i * 1000L));
                }
            }).sync();
            SidecarHarness.await(java.time.Duration.ofSeconds(5), () -> sink.lines().length == lines + 1,
                    "the last partial batch written without any further request");
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            log.close();
        }
        String[] written = sink.lines();
        for (int i = 0; i < lines; i++) {
            JsonNode line = new ObjectMapper().readTree(written[i]);
            assertEquals("r-" + i, line.get("request_id").asText());
        }
        assertEquals(0, log.dropped());
    }

    @Test
    void aHugeFieldIsCutButTheLineStaysValidJson() throws Exception {
        Sink sink = new Sink();
        AccessLog log = new AccessLog(sink, 16, "test-access-log");
        String path = "/" + "\u00e9\"".repeat(20_000); // every character escaped or multi-byte
        String id = "x".repeat(10_000);
        assertTrue(log.log("outbound", id, id, "GET", path, id, null, 200, 3, 2_000_000));
        assertTrue(log.log("outbound", null, "next", "GET", "/", "s", null, 200, 1, 0));
        log.close();
        String[] lines = sink.lines();
        assertEquals(3, lines.length);
        JsonNode cut = new ObjectMapper().readTree(lines[0]);
        assertTrue(lines[0].getBytes(StandardCharsets.UTF_8).length <= 8 * 1024, "bounded: " + lines[0].length());
        assertEquals(200, cut.get("status").asInt());
        assertEquals(3, cut.get("attempts").asInt());
        assertTrue(lines[0].endsWith(", \"duration_ms\": 2.000}"), lines[0].substring(lines[0].length() - 60));
        assertEquals("next", new ObjectMapper().readTree(lines[1]).get("request_id").asText());
    }

    @Test
    void aUtf8HeaderValueIsLoggedAsTheClientMeantIt() throws Exception {
        Sink sink = new Sink();
        AccessLog log = new AccessLog(sink, 16, "test-access-log");
        String asParsed = new String("\u00e9t\u00e9".getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1); // what the codec hands over
        assertTrue(log.log("outbound", "t", asParsed, "GET", "/", "s", null, 200, 1, 0));
        assertTrue(log.log("outbound", "t", "caf\u00e9", "GET", "/", "s", null, 200, 1, 0)); // a lone 0xE9: not UTF-8, kept
        // Read as UTF-8 only from its first char above ASCII: what came before it is written once, not twice.
        assertTrue(log.log("outbound", "t", "r-\"1\"-" + asParsed + "-\u0001", "GET", "/", "s", null, 200, 1, 0));
        assertTrue(log.log("outbound", "t", "r-\"1\"-caf\u00e9-\u0001", "GET", "/", "s", null, 200, 1, 0));
        log.close();
        assertEquals("\u00e9t\u00e9", new ObjectMapper().readTree(sink.lines()[0]).get("request_id").asText());
        assertEquals("caf\u00e9", new ObjectMapper().readTree(sink.lines()[1]).get("request_id").asText());
        assertEquals("r-\"1\"-\u00e9t\u00e9-\u0001", new ObjectMapper().readTree(sink.lines()[2]).get("request_id").asText());
        assertEquals("r-\"1\"-caf\u00e9-\u0001", new ObjectMapper().readTree(sink.lines()[3]).get("request_id").asText());
    }

    /**
     * The ids the HTTP edges make are views of byte arrays (the trace id a part of the traceparent's), and
     * the instance is written from its host and port: each as the plain strings would be.
     */
    @Test
    void idsMadeAsByteViewsAndInstancesAreWrittenAsTheirText() throws Exception {
        Sink sink = new Sink();
        AccessLog log = new AccessLog(sink, 16, "test-access-log");
        byte[] traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".getBytes(StandardCharsets.US_ASCII);
        CharSequence traceId = new io.netty.util.AsciiString(traceparent, 3, 32, false);
        CharSequence requestId = new io.netty.util.AsciiString("0f8fad5b-d9cb-469f-a165-70867728950e");
        String longHost = "h".repeat(200) + ".example";
        assertTrue(log.log("outbound", traceId, requestId, "GET", "/", "s", new Endpoint("::1", 9001), 200, 1, 0));
        assertTrue(log.log("outbound", traceId, requestId, "GET", "/", "s", new Endpoint(longHost, 65535), 200, 1, 0));
        assertTrue(log.log("outbound", traceId, requestId, "GET", "/", "s", new Endpoint("h".repeat(122), 65535), 200, 1, 0));
        log.close();
        JsonNode first = new ObjectMapper().readTree(sink.lines()[0]);
        assertEquals("4bf92f3577b34da6a3ce929d0e0e4736", first.get("trace_id").asText());
        assertEquals("0f8fad5b-d9cb-469f-a165-70867728950e", first.get("request_id").asText());
        assertEquals("::1:9001", first.get("instance").asText());
        String cut = new ObjectMapper().readTree(sink.lines()[1]).get("instance").asText();
        assertEquals((longHost + ":65535").substring(0, 128), cut, "cut as any field is, after its room");
        assertEquals("h".repeat(122) + ":65535", new ObjectMapper().readTree(sink.lines()[2]).get("instance").asText());
    }

    /** Byte views take the same escapes and cuts as strings: a quote, a control byte, a byte above ASCII, a huge one. */
    @Test
    void aByteViewIsEscapedAndCutAsAStringIs() throws Exception {
        Sink sink = new Sink();
        AccessLog log = new AccessLog(sink, 16, "test-access-log");
        byte[] odd = "ab\"c\\d\u0001e".getBytes(StandardCharsets.ISO_8859_1);
        byte[] latin = {'x', (byte) 0xC3, (byte) 0xA9, 'y'}; // UTF-8 for é, as the codec hands bytes over
        assertTrue(log.log("outbound", new io.netty.util.AsciiString(odd), new io.netty.util.AsciiString(latin), "GET", "/", "s", null, 200, 1, 0));
        assertTrue(log.log("outbound", "t", new io.netty.util.AsciiString("r".repeat(9_000)), "GET", "/p", "s", null, 200, 1, 0));
        log.close();
        JsonNode first = new ObjectMapper().readTree(sink.lines()[0]);
        assertEquals("ab\"c\\d\u0001e", first.get("trace_id").asText());
        assertEquals("x\u00e9y", first.get("request_id").asText());
        JsonNode second = new ObjectMapper().readTree(sink.lines()[1]);
        assertTrue(second.get("request_id").asText().length() < 9_000, "cut");
        assertEquals("/p", second.get("path").asText());
    }

    @Test
    void oneHugeFieldLeavesTheOthersTheirRoom() throws Exception {
        Sink sink = new Sink();
        AccessLog log = new AccessLog(sink, 16, "test-access-log");
        assertTrue(log.log("outbound", "t", "r".repeat(9_000), "POST", "/orders", "service-b",
                new io.outrigger.discovery.Endpoint("127.0.0.1", 9001), 201, 1, 0));
        log.close();
        JsonNode line = new ObjectMapper().readTree(sink.lines()[0]);
        assertTrue(line.get("request_id").asText().startsWith("rrr"));
        assertTrue(line.get("request_id").asText().length() < 9_000, "the long field is the one cut");
        assertEquals("POST", line.get("method").asText());
        assertEquals("/orders", line.get("path").asText());
        assertEquals("service-b", line.get("service").asText());
        assertEquals("127.0.0.1:9001", line.get("instance").asText());
    }
}

package io.outrigger.http;

import io.netty.handler.codec.http.HttpHeaders;
import io.outrigger.Sidecar;
import io.outrigger.testing.Await;
import io.outrigger.testing.Closer;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static io.outrigger.http.SidecarHarness.instance;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A chunked request body streams to the first attempt as it comes and is never held back, while the sidecar keeps a copy
 * of its bytes up to {@code http.retry_buffer_bytes}: a body that ends within that limit is replayed (chunked, with the
 * trailer section the first attempt got) on a retry the rules allow; a longer one is not.
 */
class ChunkedRetryTest {
    /** The sidecar's {@code retry_buffer_bytes}: small, so a body over it is quick to send. */
    private static final int LIMIT = 4096;

    /** A trailer section with a field to keep and two the sidecar drops (hop-by-hop, and a trace header it owns). */
    private static final String TRAILERS = "X-Checksum: 42\r\nKeep-Alive: timeout=5\r\nX-Request-Id: spoofed\r\n";

    @TempDir
    Path dir;

    @AutoClose
    private final Closer closeables = new Closer();

    /** The instance each request goes to first; each test sets how it answers before {@link #sidecar()}. */
    private TestUpstream first;
    /** The instance a retry goes to. */
    private TestUpstream second;

    @BeforeEach
    void instances() throws InterruptedException {
        first = upstream();
        second = upstream();
    }

    @Test
    void aShortChunkedPostThatTheFirstInstanceClosesOnIsReplayedWholeOntoTheSecond() throws Exception {
        first.closeBeforeResponse = true; // reads the whole request, then closes without a byte of answer
        int port = sidecar();
        byte[][] chunks = {bytes(700, 1), bytes(1, 2), bytes(1300, 3)};

        String res = send(port, "POST", chunks, TRAILERS);

        assertTrue(res.startsWith("HTTP/1.1 200 "), res);
        assertTrue(res.contains("\"port\": " + second.port()), "the second instance's answer: " + res);
        TestUpstream.Seen tried = only(first);
        TestUpstream.Seen replayed = only(second);
        assertArrayEquals(concat(chunks), tried.body());
        assertArrayEquals(concat(chunks), replayed.body(), "the retry carries the same body, byte for byte");
        assertEquals("chunked", replayed.headers().get("transfer-encoding"), "framed as the first attempt was");
        assertEquals(List.of("x-checksum: 42"), lines(tried.trailers()), "the first attempt's trailer section");
        assertEquals(List.of("x-checksum: 42"), lines(replayed.trailers()), "the same trailer section on the retry");
    }

    /**
     * The copy holds up to the limit: a body of exactly {@link #LIMIT} bytes is replayed, one a byte longer is not, nor
     * one whose copy is given up on a chunk in its middle (its later chunks are streamed as before).
     */
    @Test
    void aChunkedBodyIsReplayedUpToTheLimitAndNotOverIt() throws Exception {
        first.closeBeforeResponse = true; // reads the whole request, then closes without a byte of answer
        int port = sidecar();
        byte[][] atLimit = {bytes(LIMIT - 1000, 4), bytes(1000, 5)};

        String res = send(port, "PUT", atLimit, "");

        assertTrue(res.startsWith("HTTP/1.1 200 "), res);
        assertArrayEquals(concat(atLimit), only(first).body());
        assertArrayEquals(concat(atLimit), only(second).body(), "a body of exactly the limit is replayed");
        assertEquals(List.of(), lines(only(second).trailers()));

        // From here on, whichever instance the round robin picks closes: a replay would show as a second request.
        second.closeBeforeResponse = true;
        byte[][] oneOver = {bytes(LIMIT - 1000, 4), bytes(1001, 5)};
        byte[][] overMidway = {bytes(2000, 6), bytes(2000, 7), bytes(97, 8), bytes(2000, 9)}; // the third chunk passes the limit
        for (byte[][] over : List.of(oneOver, overMidway)) {
            first.requests.clear();
            second.requests.clear();

            res = send(port, "POST", over, TRAILERS);

            assertTrue(res.startsWith("HTTP/1.1 502 "), res);
            assertEquals(1, first.requestCount() + second.requestCount(), "a body whose copy outgrew the limit goes once");
            TestUpstream.Seen tried = first.requestCount() == 1 ? only(first) : only(second);
            assertArrayEquals(concat(over), tried.body(), "streamed whole to its one attempt all the same");
            assertEquals(List.of("x-checksum: 42"), lines(tried.trailers()));
        }
    }

    @Test
    void aChunkedGetAnswered503IsReplayedButAChunkedPostIsNot() throws Exception {
        first.status = 503; // answers once it has the whole request
        int port = sidecar();
        byte[][] chunks = {bytes(900, 10), bytes(900, 11), bytes(3, 12)};

        String get = send(port, "GET", chunks, TRAILERS);

        assertTrue(get.startsWith("HTTP/1.1 200 "), get);
        assertTrue(get.contains("\"port\": " + second.port()), get);
        assertArrayEquals(concat(chunks), only(first).body());
        assertArrayEquals(concat(chunks), only(second).body(), "the body intact on the retry");
        assertEquals(List.of("x-checksum: 42"), lines(only(second).trailers()));

        first.requests.clear();
        second.requests.clear();
        second.status = 503; // whichever instance it goes to answers 503
        String post = send(port, "POST", chunks, TRAILERS);

        assertTrue(post.startsWith("HTTP/1.1 503 "), "a POST's 503 goes to the caller: " + post);
        assertTrue(post.contains("\"port\": "), "the instance's own answer: " + post);
        assertEquals(1, first.requestCount() + second.requestCount(), "a POST answered 503 is not sent again");
        TestUpstream.Seen answered = first.requestCount() == 1 ? only(first) : only(second);
        assertArrayEquals(concat(chunks), answered.body());
    }

    @Test
    void chunksReachTheFirstInstanceBeforeTheBodyEndsAndTheWholeBodyIsStillReplayed() throws Exception {
        first.closeBeforeResponse = true;
        int port = sidecar();

        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write(("POST /stream HTTP/1.1\r\nHost: service-b\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                    + "5\r\nhello\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            // Not held back for the rest of the body: the first chunk is at the instance while the client holds the last.
            Await.until("the first chunk at the first instance", Duration.ofSeconds(5), () -> first.bodyBytesIn.get() == 5);
            assertEquals(0, first.requestCount(), "the body has not ended at the instance");
            out.write("6\r\n world\r\n0\r\nX-Checksum: 42\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            String res = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);

            assertTrue(res.startsWith("HTTP/1.1 200 "), res);
            assertTrue(res.contains("\"port\": " + second.port()), res);
        }
        assertEquals("hello world", new String(only(first).body(), StandardCharsets.ISO_8859_1));
        assertEquals("hello world", new String(only(second).body(), StandardCharsets.ISO_8859_1));
        assertEquals(List.of("x-checksum: 42"), lines(only(second).trailers()));
    }

    private TestUpstream upstream() throws InterruptedException {
        TestUpstream u = closeables.add(new TestUpstream());
        u.keepBodies = true;
        return u;
    }

    /**
     * A sidecar ({@code retry_buffer_bytes} {@link #LIMIT}) over {@code first} and {@code second}, in that order: its
     * round robin starts with {@code first}, and a retry goes on to the instance after the one tried.
     */
    private int sidecar() throws Exception {
        Sidecar s = closeables.add(SidecarHarness.start(
                SidecarHarness.registry(dir, "\"service-b\": [" + instance(first.port()) + ", " + instance(second.port()) + "]"),
                SidecarHarness.RESILIENCE.replace("pool_max_idle: 4 }", "pool_max_idle: 4, retry_buffer_bytes: " + LIMIT + " }")));
        return s.boundPorts().get("outbound");
    }

    /** The one request {@code upstream} saw whole (fails the test if it saw another number). */
    private static TestUpstream.Seen only(TestUpstream upstream) {
        assertEquals(1, upstream.requestCount(), "requests at the instance on port " + upstream.port());
        return upstream.requests.peek();
    }

    /** Sends {@code method /up} with {@code chunks} as a chunked body and {@code trailers} (raw lines), and reads the answer until the close. */
    private static String send(int port, String method, byte[][] chunks, String trailers) throws IOException {
        ByteArrayOutputStream req = new ByteArrayOutputStream();
        req.writeBytes((method + " /up HTTP/1.1\r\nHost: service-b\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.ISO_8859_1));
        for (byte[] c : chunks) {
            req.writeBytes((Integer.toHexString(c.length) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
            req.writeBytes(c);
            req.writeBytes("\r\n".getBytes(StandardCharsets.ISO_8859_1));
        }
        req.writeBytes(("0\r\n" + trailers + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            s.getOutputStream().write(req.toByteArray());
            s.getOutputStream().flush();
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    /** {@code length} bytes of every value, starting at {@code seed}, so that chunks differ and a shifted byte shows. */
    private static byte[] bytes(int length, int seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (seed * 31 + i * 7);
        }
        return b;
    }

    private static byte[] concat(byte[][] chunks) {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (byte[] c : chunks) {
            all.writeBytes(c);
        }
        return all.toByteArray();
    }

    /** A trailer section as {@code name: value} lines, names in lower case. */
    private static List<String> lines(HttpHeaders trailers) {
        List<String> lines = new ArrayList<>();
        for (Map.Entry<String, String> e : trailers) {
            lines.add(e.getKey().toLowerCase(Locale.ROOT) + ": " + e.getValue());
        }
        return lines;
    }
}

package io.outrigger.http;

import io.netty.util.internal.PlatformDependent;
import io.outrigger.Sidecar;
import io.outrigger.testing.Closer;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.outrigger.http.SidecarHarness.instance;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The retry buffer ({@code http.retry_buffer_bytes}) keeps a body that fits it for replay, and takes memory as
 * the body's bytes come, not for the {@code Content-Length} a head declares: a client that sends a head and
 * stalls holds no buffer, however large a body it announced.
 */
class RetryBufferTest {
    private static final int LIMIT = 100_000;

    @TempDir
    Path dir;

    @AutoClose
    private final Closer closeables = new Closer();

    @Test
    void aStalledHeadHoldsNoBufferForTheBodyItDeclared() throws Exception {
        int clients = 3;
        int declared = 64 << 20;
        Sidecar sidecar = closeables.add(SidecarHarness.start(
                SidecarHarness.registry(dir, "\"service-b\": [" + instance(SidecarHarness.closedPort()) + "]"),
                "http: { retry_buffer_bytes: " + declared + ", max_body_bytes: 0, idle_timeout_ms: 60000 }\n"));
        int port = sidecar.boundPorts().get("outbound");
        long before = PlatformDependent.usedDirectMemory();
        assertTrue(before >= 0, "Netty counts its direct memory in this JVM (else this test measures nothing)");

        List<Socket> stalled = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            Socket s = closeables.add(new Socket("127.0.0.1", port));
            s.setSoTimeout(5000);
            s.getOutputStream().write(("POST /up HTTP/1.1\r\nHost: service-b\r\nContent-Length: " + declared
                    + "\r\nExpect: 100-continue\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            stalled.add(s);
        }
        // The 100 Continue comes once the head was taken in (and, before, its whole declared body allocated).
        for (Socket s : stalled) {
            String line = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1)).readLine();
            assertEquals("HTTP/1.1 100 Continue", line);
        }
        long grown = PlatformDependent.usedDirectMemory() - before;
        assertTrue(grown < 16 << 20, clients + " heads that declared " + declared + " bytes each and sent none of them took "
                + grown + " bytes of direct memory");
    }

    @Test
    void aBodyAtTheLimitIsReplayedOnARetry() throws Exception {
        byte[] body = body(LIMIT);
        List<byte[]> seen = new CopyOnWriteArrayList<>();
        int port = sidecarOverResettingInstance(seen);

        String answer = post(port, body);
        assertTrue(answer.startsWith("HTTP/1.1 200 "), answer);
        assertEquals(2, seen.size(), "the first attempt reset, the retry answered");
        assertArrayEquals(body, seen.get(0));
        assertArrayEquals(body, seen.get(1), "the retry carries the same body");
    }

    @Test
    void aBodyOneByteOverTheLimitIsNotReplayed() throws Exception {
        byte[] body = body(LIMIT + 1);
        List<byte[]> seen = new CopyOnWriteArrayList<>();
        int port = sidecarOverResettingInstance(seen);

        String answer = post(port, body);
        assertTrue(answer.startsWith("HTTP/1.1 502 "), answer);
        assertEquals(1, seen.size(), "a streamed body goes once");
        assertArrayEquals(body, seen.get(0));
    }

    private static byte[] body(int length) {
        byte[] body = new byte[length];
        for (int i = 0; i < length; i++) {
            body[i] = (byte) ('a' + i % 26);
        }
        return body;
    }

    /** Sends {@code body} in pieces, so the buffer grows as they come, and reads the answer until the close. */
    private static String post(int port, byte[] body) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write(("POST /up HTTP/1.1\r\nHost: service-b\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            for (int at = 0; at < body.length; at += 7_000) {
                out.write(body, at, Math.min(7_000, body.length - at));
                out.flush();
            }
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    /**
     * A sidecar ({@code retry_buffer_bytes} {@link #LIMIT}) over one instance that reads each request whole, records its
     * body in {@code seen}, and resets its first connection instead of answering; the others it answers {@code 200}.
     */
    private int sidecarOverResettingInstance(List<byte[]> seen) throws Exception {
        ServerSocket server = closeables.add(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
        Thread t = new Thread(() -> {
            while (!server.isClosed()) {
                try (Socket s = server.accept()) {
                    seen.add(readBody(s.getInputStream()));
                    if (seen.size() == 1) {
                        s.setSoLinger(true, 0); // a reset: a failure retried for any method when the body was kept
                    } else {
                        s.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(StandardCharsets.ISO_8859_1));
                    }
                } catch (IOException e) {
                    return; // closed at the end of the test
                }
            }
        }, "resetting-instance");
        t.setDaemon(true);
        t.start();
        Sidecar sidecar = closeables.add(SidecarHarness.start(
                SidecarHarness.registry(dir, "\"service-b\": [" + instance(server.getLocalPort()) + "]"),
                SidecarHarness.RESILIENCE.replace("pool_max_idle: 4 }", "pool_max_idle: 4, retry_buffer_bytes: " + LIMIT + " }")));
        return sidecar.boundPorts().get("outbound");
    }

    /** Reads one request with a Content-Length and returns its body. */
    private static byte[] readBody(InputStream in) throws IOException {
        int length = -1;
        StringBuilder line = new StringBuilder();
        for (int b; (b = in.read()) >= 0; ) {
            if (b != '\n') {
                line.append((char) b);
                continue;
            }
            String l = line.toString().trim();
            line.setLength(0);
            if (l.isEmpty()) {
                break;
            }
            if (l.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                length = Integer.parseInt(l.substring(15).trim());
            }
        }
        byte[] body = in.readNBytes(Math.max(length, 0));
        return Arrays.copyOf(body, body.length);
    }
}

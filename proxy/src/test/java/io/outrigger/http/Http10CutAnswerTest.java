package io.outrigger.http;

import io.outrigger.Sidecar;
import io.outrigger.testing.Closer;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An HTTP/1.0 client gets an answer without a length as a body that ends with the connection. When the
 * instance breaks that answer off half-way, a FIN would end it as if whole, byte for byte the answer of an
 * instance that sent only that much: the sidecar resets the client's connection instead, so the client reads
 * an error, as it would from the instance itself. So does the sidecar's shutdown, which cuts such an answer
 * still under way at the drain's deadline.
 */
class Http10CutAnswerTest {
    @TempDir
    Path dir;

    @AutoClose
    private final Closer closeables = new Closer();

    @Test
    void anHttp10ClientReadsAnErrorWhenTheInstanceBreaksOffAChunkedAnswer() throws Exception {
        ServerSocket server = closeables.add(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
        // A chunked answer broken off after its first chunk: no last chunk, and a close.
        answerTheFirstChunkThen(server, new CountDownLatch(0));
        int port = SidecarHarness.outboundTo(server.getLocalPort(), dir, closeables);

        try (Socket client = new Socket("127.0.0.1", port)) {
            client.setSoTimeout(5000);
            client.getOutputStream().write("GET /download HTTP/1.0\r\nHost: service-b\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            InputStream in = client.getInputStream();
            byte[] buf = new byte[8192];
            assertThrows(SocketException.class, () -> {
                for (int n; (n = in.read(buf)) >= 0; ) {
                    got.write(buf, 0, n);
                }
            }, () -> "a cut close-delimited answer ended with a clean close, as if whole: " + got.toString(StandardCharsets.ISO_8859_1));
            String answer = got.toString(StandardCharsets.ISO_8859_1);
            assertTrue(answer.isEmpty() || answer.startsWith("HTTP/1.1 200 "), answer);
        }
    }

    @Test
    void anHttp10ClientReadsAnErrorWhenTheSidecarsShutdownCutsItsAnswer() throws Exception {
        ServerSocket server = closeables.add(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
        CountDownLatch cut = new CountDownLatch(1);
        // A chunked answer still under way: its first chunk, then nothing until the sidecar is gone.
        answerTheFirstChunkThen(server, cut);
        // A request deadline far beyond the test's: only the shutdown cuts the answer.
        Sidecar sidecar = closeables.add(SidecarHarness.start(SidecarHarness.registry(dir,
                "\"service-b\": [" + SidecarHarness.instance(server.getLocalPort()) + "]"),
                SidecarHarness.RESILIENCE.replace("request_ms: 1000", "request_ms: 60000")));
        int port = sidecar.boundPorts().get("outbound");

        try (Socket client = new Socket("127.0.0.1", port)) {
            client.setSoTimeout(5000);
            client.getOutputStream().write("GET /download HTTP/1.0\r\nHost: service-b\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            InputStream in = client.getInputStream();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            while (!got.toString(StandardCharsets.ISO_8859_1).endsWith("hello")) {
                int n = in.read(buf);
                assertTrue(n > 0, () -> "the answer ended before its first chunk: " + got.toString(StandardCharsets.ISO_8859_1));
                got.write(buf, 0, n);
            }
            assertTrue(got.toString(StandardCharsets.ISO_8859_1).startsWith("HTTP/1.1 200 "), got::toString);

            sidecar.close(); // the drain's deadline: whatever is still open is cut

            assertThrows(SocketException.class, () -> {
                for (int n; (n = in.read(buf)) >= 0; ) {
                    assertEquals(-2, n, "nothing follows the cut");
                }
            }, "a close-delimited answer cut by the shutdown ended with a clean close, as if whole");
        } finally {
            cut.countDown();
        }
    }

    /** One instance connection: reads a GET's head, sends a chunked answer's head and first chunk, waits for {@code close}, closes. */
    private static void answerTheFirstChunkThen(ServerSocket server, CountDownLatch close) {
        Thread instance = new Thread(() -> {
            try (Socket s = server.accept();
                 BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1))) {
                while (!in.readLine().isEmpty()) {
                    // the request head; a GET has no body
                }
                s.getOutputStream().write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
                        .getBytes(StandardCharsets.ISO_8859_1));
                s.getOutputStream().flush();
                close.await();
            } catch (IOException | InterruptedException | RuntimeException e) {
                // the test fails on what the client read
            }
        }, "instance");
        instance.setDaemon(true);
        instance.start();
    }
}

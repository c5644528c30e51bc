package io.outrigger.http;

import io.outrigger.Sidecar;
import io.outrigger.testing.Closer;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

import static io.outrigger.http.SidecarHarness.instance;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An instance that begins to answer a large upload, then neither sends more of its answer nor takes more
 * of the upload, has stalled: after {@code http.idle_timeout_ms} the exchange is cut as a timeout (the
 * client connection closes with the answer unfinished) rather than holding the client and both connections
 * for as long as the instance keeps its socket open. The request deadline cannot end it, since it only
 * starts with the end of the body.
 */
class StalledHalfAnswerTest {
    @TempDir
    Path dir;

    @AutoClose
    private final Closer closeables = new Closer();

    @Test
    void anInstanceThatStopsBothReadingAndAnsweringIsCutAfterTheIdleTimeout() throws Exception {
        ServerSocket server = closeables.add(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
        CountDownLatch testOver = new CountDownLatch(1);
        Thread instance = new Thread(() -> {
            try (Socket s = server.accept()) {
                s.getInputStream().read(new byte[4096]); // the start of the request; the rest is never read
                s.getOutputStream().write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
                        .getBytes(StandardCharsets.ISO_8859_1));
                s.getOutputStream().flush();
                testOver.await(); // then silent, its connection open
            } catch (IOException | InterruptedException e) {
                // the sidecar closed the connection
            }
        }, "stalling-instance");
        instance.setDaemon(true);
        instance.start();
        closeables.add(testOver::countDown);
        // Request deadline far beyond the wait below: only the idle timeout can end the exchange in time.
        Sidecar sidecar = closeables.add(SidecarHarness.start(
                SidecarHarness.registry(dir, "\"service-b\": [" + instance(server.getLocalPort()) + "]"),
                "resilience: { timeouts: { request_ms: 60000 } }\nhttp: { idle_timeout_ms: 300 }\n"));
        int port = sidecar.boundPorts().get("outbound");

        try (Socket client = new Socket("127.0.0.1", port)) {
            client.setSoTimeout(5000);
            OutputStream out = client.getOutputStream();
            out.write("POST /upload HTTP/1.1\r\nHost: service-b\r\nContent-Length: 1073741824\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            Thread uploader = new Thread(() -> {
                byte[] block = new byte[65536];
                try {
                    while (true) {
                        out.write(block); // blocks once the buffers fill: the instance takes none
                    }
                } catch (IOException closed) {
                    // the sidecar closed the connection
                }
            }, "uploader");
            uploader.setDaemon(true);
            uploader.start();

            ByteArrayOutputStream got = new ByteArrayOutputStream();
            InputStream in = client.getInputStream();
            byte[] buf = new byte[8192];
            try {
                for (int n; (n = in.read(buf)) >= 0; ) {
                    got.write(buf, 0, n);
                }
            } catch (SocketTimeoutException stuck) {
                throw new AssertionError("the exchange was not cut within 5 s; the client had "
                        + got.toString(StandardCharsets.ISO_8859_1));
            } catch (SocketException reset) {
                // a close with the upload unread is a reset: what came before it counts
            }
            String answer = got.toString(StandardCharsets.ISO_8859_1);
            assertTrue(answer.startsWith("HTTP/1.1 200 "), answer);
            assertTrue(answer.contains("hello"), answer);
            assertFalse(answer.endsWith("\r\n0\r\n\r\n"), "a cut answer must not look whole: " + answer);
        }
    }
}

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
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static io.outrigger.http.SidecarHarness.RESILIENCE;
import static io.outrigger.http.SidecarHarness.instance;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Interim answers that fill the client's connection: the sidecar stops reading from the instance while
 * the client cannot take more, and must read on once it can, although no final answer has begun yet.
 */
class InterimBackpressureTest {
    private static final int INTERIM_ANSWERS = 2000;
    private static final String INTERIM = "HTTP/1.1 103 Early Hints\r\nLink: </" + "a".repeat(2000) + ">; rel=preload\r\n\r\n";
    private static final String FINAL = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    @TempDir
    Path dir;

    @AutoClose
    private final Closer closeables = new Closer();

    @Test
    void theFinalAnswerFollowsInterimAnswersThatFilledTheClientsConnection() throws Exception {
        AtomicLong written = new AtomicLong();
        CountDownLatch testOver = new CountDownLatch(1);
        try (ServerSocket instance = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread answering = new Thread(() -> answer(instance, written, testOver), "interim-flood-instance");
            answering.setDaemon(true);
            answering.start();
            Sidecar s = closeables.add(SidecarHarness.start(SidecarHarness.registry(dir, "\"service-b\": [" + instance(instance.getLocalPort()) + "]"),
                    RESILIENCE.replace("request_ms: 1000", "request_ms: 60000")));
            int port = s.boundPorts().get("outbound");
            try (Socket client = new Socket()) {
                client.setReceiveBufferSize(4096); // what the sidecar relays backs up at once
                client.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
                client.setSoTimeout(10_000);
                client.getOutputStream().write("GET /hints HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n"
                        .getBytes(StandardCharsets.ISO_8859_1));
                // Read nothing until far more than the client's connection holds has left the instance: the
                // sidecar's side of the client connection has become unwritable and it stopped reading on.
                SidecarHarness.await(Duration.ofSeconds(10), () -> written.get() >= 512 * 1024,
                        "the instance to write 512 KiB of interim answers");
                String got = readUntilFinalAnswer(client.getInputStream());
                assertTrue(got.endsWith("\r\n\r\nok"), "the final answer after the interim ones: ..."
                        + got.substring(Math.max(0, got.length() - 200)));
            } finally {
                testOver.countDown();
            }
            answering.join(TimeUnit.SECONDS.toMillis(10));
        }
    }

    /** Reads until the final answer's body or the end of the connection; a stall fails the test. */
    private static String readUntilFinalAnswer(InputStream in) throws IOException {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        byte[] buf = new byte[64 * 1024];
        int interimBytes = INTERIM_ANSWERS * INTERIM.length();
        while (true) {
            int n;
            try {
                n = in.read(buf);
            } catch (SocketTimeoutException e) {
                fail("the sidecar stopped relaying after " + got.size() + " bytes (the interim answers alone are about "
                        + interimBytes + ")");
                return null;
            }
            if (n < 0) {
                return got.toString(StandardCharsets.ISO_8859_1);
            }
            got.write(buf, 0, n);
            String s = got.toString(StandardCharsets.ISO_8859_1);
            if (s.endsWith("\r\n\r\nok")) {
                return s;
            }
        }
    }

    /** Answers one request with many interim answers and a final one, then holds the connection open. */
    private static void answer(ServerSocket instance, AtomicLong written, CountDownLatch testOver) {
        try (Socket s = instance.accept()) {
            InputStream in = s.getInputStream();
            StringBuilder head = new StringBuilder();
            while (!head.toString().endsWith("\r\n\r\n")) {
                int b = in.read();
                if (b < 0) {
                    return;
                }
                head.append((char) b);
            }
            OutputStream out = s.getOutputStream();
            byte[] interim = INTERIM.getBytes(StandardCharsets.ISO_8859_1);
            for (int i = 0; i < INTERIM_ANSWERS; i++) {
                out.write(interim);
                written.addAndGet(interim.length);
            }
            out.write(FINAL.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            testOver.await(30, TimeUnit.SECONDS); // no close that would end the answer on its own
        } catch (IOException | InterruptedException e) {
            // the sidecar or the test ended the connection
        }
    }
}

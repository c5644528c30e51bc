package io.outrigger.http;

import io.outrigger.Sidecar;
import io.outrigger.testing.Closer;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import static io.outrigger.http.SidecarHarness.instance;

/**
 * A client that sends a streamed (chunked) request body and resets its connection at once, before the
 * sidecar has asked for more of it, is noticed at once: the exchange ends and its upstream connection is
 * dropped. On io_uring, Netty 4.2.18's multishot POLLIN missed such a reset while no read was armed (the
 * body waits for the upstream's connect), and the exchange held both connections until
 * {@code http.idle_timeout_ms}, then logged a 408; an instance that went away meanwhile took the blame (502).
 */
class ClientResetMidBodyTest {
    private static final int CLIENTS = 20;

    @TempDir
    Path dir;

    @AutoClose
    private final Closer closeables = new Closer();

    @Test
    void aClientResetRightAfterItsStreamedBodyEndsTheExchangeAtOnce() throws Exception {
        AtomicInteger accepted = new AtomicInteger();
        AtomicInteger ended = new AtomicInteger();
        ServerSocket upstream = closeables.add(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
        Thread acceptor = new Thread(() -> readUntilClosed(upstream, accepted, ended), "upstream-acceptor");
        acceptor.setDaemon(true);
        acceptor.start();
        // Idle timeouts far beyond the wait below: only noticing the reset can end the exchanges in time.
        Sidecar sidecar = closeables.add(SidecarHarness.start(
                SidecarHarness.registry(dir, "\"service-b\": [" + instance(upstream.getLocalPort()) + "]"),
                "http: { idle_timeout_ms: 60000 }\n"));
        int port = sidecar.boundPorts().get("outbound");

        byte[] chunk = ("4000\r\n" + "y".repeat(0x4000) + "\r\n").getBytes(StandardCharsets.ISO_8859_1);
        for (int i = 0; i < CLIENTS; i++) {
            Socket s = new Socket("127.0.0.1", port);
            OutputStream out = s.getOutputStream();
            out.write(("POST /upload-" + i + " HTTP/1.1\r\nHost: service-b\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            for (int c = 0; c < 3; c++) {
                out.write(chunk);
            }
            s.setSoLinger(true, 0);
            s.close(); // a reset, right behind the body
        }

        SidecarHarness.await(Duration.ofSeconds(10), () -> accepted.get() == CLIENTS, CLIENTS + " upstream connections");
        SidecarHarness.await(Duration.ofSeconds(5), () -> ended.get() == CLIENTS,
                "the sidecar to drop every upstream connection of a client that reset (" + ended.get() + " of " + CLIENTS + " dropped)");
    }

    /** Accepts connections and reads each until the sidecar closes it, counting the ends. */
    private static void readUntilClosed(ServerSocket server, AtomicInteger accepted, AtomicInteger ended) {
        while (!server.isClosed()) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                return; // closed at the end of the test
            }
            accepted.incrementAndGet();
            Thread t = new Thread(() -> {
                try (s; InputStream in = s.getInputStream()) {
                    byte[] buf = new byte[65536];
                    while (in.read(buf) >= 0) {
                        // the request as the sidecar streams it; never answered
                    }
                } catch (IOException e) {
                    // a reset by the sidecar ends it as well
                }
                ended.incrementAndGet();
            });
            t.setDaemon(true);
            t.start();
        }
    }
}

package io.outrigger.http;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.uring.IoUring;
import io.outrigger.Sidecar;
import io.outrigger.SidecarContext;
import io.outrigger.config.ConfigLoader;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.listener.Transports;
import io.outrigger.time.Ticker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The suite runs on the transport {@link Transports#best()} picks (io_uring where the kernel allows
 * it); this runs the outbound path on each transport this machine has, so none of them goes
 * untested: keep-alive requests through the pool, and an upstream named by host name (which goes
 * through the asynchronous DNS resolver, on its own loop under io_uring).
 */
class TransportMatrixTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Transports.class)
    void proxiesKeepAliveRequestsToAHostName(Transports transport) throws Exception {
        assumeTrue(transport.isAvailable(), transport + " is not available on this machine");
        try (TestUpstream upstream = new TestUpstream()) {
            Path registry = SidecarHarness.registry(dir, "\"svc\": [{\"host\": \"localhost\", \"port\": " + upstream.port() + "}]");
            SidecarConfig cfg = ConfigLoader.parse(SidecarHarness.yaml(registry, ""), "test");
            try (Sidecar sidecar = new Sidecar(new SidecarContext(cfg, FileRegistry.load(registry), Ticker.system()), transport, 1)) {
                sidecar.start();
                int port = sidecar.boundPorts().get("outbound");
                try (Socket s = new Socket("127.0.0.1", port)) {
                    s.setSoTimeout(5000);
                    OutputStream out = s.getOutputStream();
                    InputStream in = s.getInputStream();
                    for (int i = 0; i < 50; i++) {
                        out.write(("GET /r/" + i + " HTTP/1.1\r\nHost: svc\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                        String res = readResponse(in);
                        assertTrue(res.startsWith("HTTP/1.1 200"), transport + ": " + res);
                        assertTrue(res.contains("\"port\": " + upstream.port()), res);
                    }
                }
                assertEquals(50, upstream.requestCount());
                assertEquals(1, upstream.connections.get(), "one pooled upstream connection carried all 50 requests");
            }
        }
    }

    @Test
    void propertyPicksTheTransport() {
        String old = System.getProperty(Transports.PROPERTY);
        try {
            System.setProperty(Transports.PROPERTY, "nio");
            assertEquals(Transports.NIO, Transports.best());
            System.setProperty(Transports.PROPERTY, "epoll");
            assertEquals(Epoll.isAvailable() ? Transports.EPOLL : Transports.NIO, Transports.best());
            System.setProperty(Transports.PROPERTY, "io_uring");
            assertEquals(IoUring.isAvailable() ? Transports.IO_URING : Epoll.isAvailable() ? Transports.EPOLL : Transports.NIO,
                    Transports.best());
            System.clearProperty(Transports.PROPERTY);
            assertEquals(IoUring.isAvailable() ? Transports.IO_URING : Epoll.isAvailable() ? Transports.EPOLL : Transports.NIO,
                    Transports.best());
        } finally {
            if (old == null) {
                System.clearProperty(Transports.PROPERTY);
            } else {
                System.setProperty(Transports.PROPERTY, old);
            }
        }
    }

    /** One response with a Content-Length body, read byte by byte off a keep-alive connection. */
    private static String readResponse(InputStream in) throws Exception {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new AssertionError("connection closed after: " + head);
            }
            head.append((char) b);
        }
        int length = 0;
        for (String line : head.toString().split("\r\n")) {
            if (line.toLowerCase().startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        byte[] body = in.readNBytes(length);
        return head + new String(body, StandardCharsets.US_ASCII);
    }
}

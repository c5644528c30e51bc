package io.outrigger.http;

import io.outrigger.testing.Closer;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A response whose body ends with its connection (no {@code Content-Length}, not chunked) is relayed
 * to the client chunked: its end is the terminating chunk only when the instance closed the connection
 * (FIN). One the instance resets half-way was cut off, and the client must not get the last chunk, which
 * would make the truncated body look whole; Netty's decoder ends such a body at any close.
 */
class CloseDelimitedResetTest {
    private static final String BODY = "z".repeat(1000);

    @TempDir
    Path dir;

    @AutoClose
    private final Closer closeables = new Closer();

    @Test
    void aCloseDelimitedBodyCutByAResetDoesNotReachTheClientAsWhole() throws Exception {
        String got = fetchWhileTheInstanceEnds(true);
        assertTrue(got.startsWith("HTTP/1.1 200 "), got);
        assertTrue(got.contains(BODY), "the body sent before the reset is relayed: " + got.length() + " bytes");
        assertFalse(got.endsWith("\r\n0\r\n\r\n"), "a body cut by a reset ended with the last chunk: " + got);
    }

    @Test
    void aCloseDelimitedBodyEndedByAFinReachesTheClientWhole() throws Exception {
        String got = fetchWhileTheInstanceEnds(false);
        assertTrue(got.startsWith("HTTP/1.1 200 "), got);
        assertTrue(got.endsWith(BODY + "\r\n0\r\n\r\n"), got);
    }

    /** One GET through a sidecar to an instance that answers close-delimited, then resets or closes. */
    private String fetchWhileTheInstanceEnds(boolean reset) throws Exception {
        ServerSocket server = closeables.add(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
        Thread instance = new Thread(() -> {
            try (Socket s = server.accept();
                 BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1))) {
                while (!in.readLine().isEmpty()) {
                    // the request head; a GET has no body
                }
                s.getOutputStream().write(("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + BODY).getBytes(StandardCharsets.ISO_8859_1));
                s.getOutputStream().flush();
                if (reset) {
                    s.setSoLinger(true, 0);
                }
            } catch (IOException | RuntimeException e) {
                // the test fails on what the client got
            }
        }, "close-delimited-instance");
        instance.setDaemon(true);
        instance.start();
        int port = SidecarHarness.outboundTo(server.getLocalPort(), dir, closeables);
        return new String(SidecarHarness.rawLenient(port,
                "GET /download HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1)), StandardCharsets.ISO_8859_1);
    }
}

package io.outrigger.http;

import io.outrigger.testing.Closer;
import io.outrigger.testing.RawHttp;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A {@code Content-Length} with leading zeros ({@code 010}) is valid HTTP, and ten to the sidecar; a lenient
 * parser that reads a leading 0 as octal (C's {@code strtol} with base 0) takes it for 8, and the body's last
 * bytes for the start of another request (or response). Both ways the sidecar passes on the length it read
 * the body by, in plain digits. Raw sockets on the upstream side, so the exact bytes are seen.
 */
class ContentLengthDigitsTest {
    @TempDir
    Path dir;

    @AutoClose
    private final Closer closeables = new Closer();

    private int sidecar(ServerSocket upstream) throws Exception {
        return SidecarHarness.outboundTo(upstream.getLocalPort(), dir, closeables);
    }

    @Test
    void aRequestLengthWithLeadingZerosGoesUpstreamInPlainDigits() throws Exception {
        try (ServerSocket upstream = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            int port = sidecar(upstream);
            CompletableFuture<String> seen = CompletableFuture.supplyAsync(() -> answerOnce(upstream,
                    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
            try (RawHttp client = new RawHttp(port)) {
                client.send("POST /p HTTP/1.1\r\nHost: service-b\r\nContent-Length: 0010\r\n\r\n0123456789");
                assertEquals(200, client.read().status());
            }
            String head = seen.get(10, TimeUnit.SECONDS);
            assertTrue(head.toLowerCase(java.util.Locale.ROOT).contains("\r\ncontent-length: 10\r\n"), head);
        }
    }

    @Test
    void aResponseLengthWithLeadingZerosReachesTheClientInPlainDigits() throws Exception {
        try (ServerSocket upstream = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            int port = sidecar(upstream);
            CompletableFuture.supplyAsync(() -> answerOnce(upstream,
                    "HTTP/1.1 200 OK\r\nContent-Length: 0010\r\nConnection: close\r\n\r\n0123456789"));
            try (RawHttp client = new RawHttp(port)) {
                RawHttp.Response res = client.get("service-b", "/g");
                assertEquals(200, res.status());
                assertEquals("10", res.headers().get("content-length"));
                assertEquals("0123456789", res.body());
            }
        }
    }

    /** Accepts one connection, reads one request head and the body its Content-Length gives, answers {@code response}; returns the head. */
    private static String answerOnce(ServerSocket upstream, String response) {
        try (Socket s = upstream.accept()) {
            s.setSoTimeout(10_000);
            InputStream in = s.getInputStream();
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
                int b = in.read();
                if (b < 0) {
                    throw new IOException("closed in the head: " + head.toString(StandardCharsets.ISO_8859_1));
                }
                head.write(b);
            }
            String text = head.toString(StandardCharsets.ISO_8859_1);
            String length = text.replaceAll("(?is).*\r\ncontent-length: *([0-9]+)\r\n.*", "$1");
            if (!length.equals(text)) {
                in.readNBytes(Integer.parseInt(length));
            }
            s.getOutputStream().write(response.getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            s.shutdownOutput();
            while (in.read() >= 0) {
                // until the sidecar closes its side
            }
            return text;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}

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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A client that reads slowly a large answer whose body ends with its connection (no {@code Content-Length}, not chunked,
 * {@code Connection: close}) gets it whole, chunked, without a stall. On io_uring with the read buffer ring (the suite's
 * default transport; the {@code epoll} execution runs it on epoll) Netty keeps a multishot receive armed whatever the
 * exchange asks, and could hand on bytes received while the exchange held its reads (the client not writable) with no
 * {@code channelReadComplete} after them: the exchange, which flushes and asks for the next read at a burst's end,
 * left them unflushed and the answer stalled until {@code request_ms} (a 504, the client cut off with no last chunk).
 * The stall came in a fraction of a percent of such downloads: the test runs many side by side.
 */
class SlowReaderCloseDelimitedTest {
    private static final int BODY_BYTES = Integer.getInteger("slowreader.body", 1 << 20);
    private static final int CLIENTS = Integer.getInteger("slowreader.clients", 6);
    private static final long RUN_NANOS = TimeUnit.MILLISECONDS.toNanos(Long.getLong("slowreader.ms", 4000));
    private static final int READ_BYTES = Integer.getInteger("slowreader.read", 8192);
    /** The client's pace: one read of {@link #READ_BYTES} per this many microseconds. Pacing, not synchronisation. */
    private static final long PACE_MICROS = Long.getLong("slowreader.pace", 500);
    /** No byte for this long is a stall: request_ms is far longer, so a stall is seen here first. */
    private static final int STALL_MILLIS = 2000;

    @TempDir
    Path dir;

    @AutoClose
    private final Closer closeables = new Closer();

    @Test
    void aSlowClientGetsALargeCloseDelimitedAnswerWholeWithoutAStall() throws Exception {
        byte[] body = new byte[BODY_BYTES];
        for (int i = 0; i < body.length; i++) {
            body[i] = (byte) ('a' + i % 26);
        }
        byte[] head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        ServerSocket server = closeables.add(new ServerSocket(0, 100, InetAddress.getLoopbackAddress()));
        SidecarHarness.acceptOnThread(server, "close-delimited-instance", s -> {
            try (s) {
                InputStream in = s.getInputStream();
                int matched = 0; // up to the end of the request head; a GET has no body
                while (matched < 4) {
                    int b = in.read();
                    if (b < 0) {
                        return;
                    }
                    matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : b == '\r' ? 1 : 0;
                }
                OutputStream out = s.getOutputStream();
                out.write(head);
                out.write(body); // then the close (FIN) ends the body
                out.flush();
            } catch (IOException e) {
                // the test fails on what the client got
            }
        });
        Path registry = SidecarHarness.registry(dir, "\"service-b\": [" + SidecarHarness.instance(server.getLocalPort()) + "]");
        Sidecar sidecar = closeables.add(SidecarHarness.start(registry,
                SidecarHarness.RESILIENCE.replace("request_ms: 1000", "request_ms: 30000")));
        int port = sidecar.boundPorts().get("outbound");

        ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
        try {
            long until = System.nanoTime() + RUN_NANOS;
            List<Future<Integer>> runs = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                runs.add(clients.submit(() -> {
                    int fetched = 0;
                    do {
                        fetchSlowly(port, body);
                        fetched++;
                    } while (System.nanoTime() < until);
                    return fetched;
                }));
            }
            int fetched = 0;
            for (Future<Integer> run : runs) {
                fetched += run.get(); // an assertion failed in a client fails the test here
            }
            assertTrue(fetched >= CLIENTS, "downloads: " + fetched);
        } finally {
            clients.shutdownNow();
        }
    }

    /** One GET read {@link #READ_BYTES} at a time through a small receive buffer; checks the chunked body against {@code body}. */
    private static void fetchSlowly(int port, byte[] body) throws IOException {
        try (Socket s = new Socket()) {
            s.setReceiveBufferSize(16 * 1024); // before connecting, so the window stays small
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            s.setSoTimeout(STALL_MILLIS);
            s.getOutputStream().write("GET /download HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream got = new ByteArrayOutputStream(body.length + 64 * 1024);
            byte[] buf = new byte[READ_BYTES];
            try {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    got.write(buf, 0, n);
                    LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(PACE_MICROS));
                }
            } catch (SocketTimeoutException stalled) {
                throw new AssertionError("the answer stalled after " + got.size() + " bytes");
            }
            String text = got.toString(StandardCharsets.ISO_8859_1);
            int headEnd = text.indexOf("\r\n\r\n");
            assertTrue(text.startsWith("HTTP/1.1 200 ") && headEnd > 0, () -> text.substring(0, Math.min(300, text.length())));
            assertTrue(text.substring(0, headEnd).toLowerCase().contains("transfer-encoding: chunked"), text.substring(0, headEnd));
            assertEquals(new String(body, StandardCharsets.ISO_8859_1), dechunk(text, headEnd + 4),
                    "the body, re-framed as chunks and ended by the last chunk");
        }
    }

    /** The body of the chunked message {@code text} from {@code at}; fails on a body without its last chunk. */
    private static String dechunk(String text, int at) {
        StringBuilder out = new StringBuilder(text.length());
        while (true) {
            int lineEnd = text.indexOf("\r\n", at);
            assertTrue(lineEnd > 0, "a chunk cut short after " + out.length() + " body bytes");
            int size = Integer.parseInt(text.substring(at, lineEnd).split(";")[0].trim(), 16);
            at = lineEnd + 2;
            if (size == 0) {
                assertTrue(text.startsWith("\r\n", at), "the last chunk's end");
                return out.toString();
            }
            assertTrue(at + size + 2 <= text.length(), "a chunk cut short after " + out.length() + " body bytes");
            out.append(text, at, at + size);
            at += size + 2;
        }
    }
}

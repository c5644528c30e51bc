package io.outrigger.http;

import io.outrigger.Sidecar;
import io.outrigger.testing.Closer;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedInputStream;
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
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Clients upload large bodies (Content-Length and chunked) through the outbound listener to an instance that reads
 * them slowly through a small receive buffer: each upload arrives whole, byte for byte, without a stall. The exchange
 * holds the client's reads while the instance's connection is not writable, and flushes what it relayed, and asks for
 * the next read, at the end of a client read burst; a burst left without {@code channelReadComplete} (as Netty can on
 * io_uring with the read buffer ring, see {@code UpstreamHandler}) would leave body unflushed and stall the upload
 * until the instance gives up. The instance here gives up after {@value #STALL_MILLIS} ms without a byte; request_ms
 * is far longer.
 */
class SlowUpstreamUploadTest {
    private static final int BODY_BYTES = Integer.getInteger("slowupload.body", 3 << 20);
    private static final int CLIENTS = Integer.getInteger("slowupload.clients", 4);
    private static final long RUN_NANOS = TimeUnit.MILLISECONDS.toNanos(Long.getLong("slowupload.ms", 4000));
    private static final int READ_BYTES = 8192;
    /** The instance's pace: one read of {@link #READ_BYTES} per this many microseconds. Pacing, not synchronisation. */
    private static final long PACE_MICROS = Long.getLong("slowupload.pace", 500);
    private static final int STALL_MILLIS = 2000;

    @TempDir
    Path dir;

    @AutoClose
    private final Closer closeables = new Closer();

    @Test
    void largeUploadsToASlowInstanceArriveWholeWithoutAStall() throws Exception {
        byte[] body = new byte[BODY_BYTES];
        for (int i = 0; i < body.length; i++) {
            body[i] = (byte) ('a' + i % 26 + (i / 7919) % 3); // a pattern that does not repeat on read boundaries
        }
        Queue<String> failures = new ConcurrentLinkedQueue<>();
        ServerSocket server = new ServerSocket();
        server.setReceiveBufferSize(16 * 1024); // inherited by accepted sockets: a small window
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 100);
        closeables.add(server);
        SidecarHarness.acceptOnThread(server, "slow-upload-instance", s -> {
            try (s) {
                s.setSoTimeout(STALL_MILLIS);
                String problem = readSlowly(new BufferedInputStream(s.getInputStream(), READ_BYTES), body);
                OutputStream out = s.getOutputStream();
                if (problem == null) {
                    out.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".getBytes(StandardCharsets.US_ASCII));
                } else {
                    failures.add(problem);
                    out.write("HTTP/1.1 400 Bad\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                }
                out.flush();
            } catch (SocketTimeoutException stalled) {
                failures.add("the instance got no byte for " + STALL_MILLIS + " ms");
            } catch (IOException e) {
                failures.add("instance: " + e);
            }
        });
        Path registry = SidecarHarness.registry(dir, "\"service-b\": [" + SidecarHarness.instance(server.getLocalPort()) + "]");
        Sidecar sidecar = closeables.add(SidecarHarness.start(registry, SidecarHarness.RESILIENCE
                .replace("request_ms: 1000", "request_ms: 30000")
                .replace("max_body_bytes: 1048576", "max_body_bytes: 67108864")));
        int port = sidecar.boundPorts().get("outbound");

        ExecutorService clients = Executors.newFixedThreadPool(CLIENTS * 2);
        try {
            long until = System.nanoTime() + RUN_NANOS;
            List<Future<Integer>> runs = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                boolean chunked = c % 2 == 1;
                runs.add(clients.submit(() -> {
                    int uploads = 0;
                    do {
                        upload(port, body, chunked, clients);
                        uploads++;
                    } while (System.nanoTime() < until && failures.isEmpty());
                    return uploads;
                }));
            }
            int uploads = 0;
            List<String> errors = new ArrayList<>();
            for (Future<Integer> run : runs) {
                try {
                    uploads += run.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    errors.add(String.valueOf(e.getCause()));
                }
            }
            assertTrue(failures.isEmpty() && errors.isEmpty(), "instance: " + failures + "; clients: " + errors);
            assertTrue(uploads >= CLIENTS, "uploads: " + uploads);
        } finally {
            clients.shutdownNow();
        }
    }

    /** Reads one request, its body {@link #READ_BYTES} at a time at the instance's pace; null when the body is {@code body}. */
    private static String readSlowly(InputStream in, byte[] body) throws IOException {
        String head = line(in);
        long length = -1;
        boolean chunked = false;
        for (String h = line(in); !h.isEmpty(); h = line(in)) {
            String lower = h.toLowerCase();
            if (lower.startsWith("content-length:")) {
                length = Long.parseLong(h.substring(15).trim());
            } else if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
                chunked = true;
            }
        }
        if (!head.startsWith("POST ")) {
            return "request line: " + head;
        }
        int[] at = {0};
        byte[] buf = new byte[READ_BYTES];
        if (!chunked) {
            if (length != body.length) {
                return "content-length " + length;
            }
            return readBody(in, body, at, body.length, buf);
        }
        while (true) {
            int size = Integer.parseInt(line(in).split(";")[0].trim(), 16);
            if (size == 0) {
                while (!line(in).isEmpty()) {
                    // trailers
                }
                return at[0] == body.length ? null : "the last chunk after " + at[0] + " body bytes";
            }
            String problem = readBody(in, body, at, size, buf);
            if (problem != null) {
                return problem;
            }
            if (!line(in).isEmpty()) {
                return "no CRLF after a chunk at " + at[0];
            }
        }
    }

    private static String readBody(InputStream in, byte[] body, int[] at, int count, byte[] buf) throws IOException {
        while (count > 0) {
            int n = in.read(buf, 0, Math.min(buf.length, count));
            if (n < 0) {
                return "the body cut after " + at[0] + " bytes";
            }
            for (int i = 0; i < n; i++) {
                if (at[0] + i >= body.length || buf[i] != body[at[0] + i]) {
                    return "byte " + (at[0] + i) + " differs";
                }
            }
            at[0] += n;
            count -= n;
            LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(PACE_MICROS));
        }
        return null;
    }

    private static String line(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        int b;
        while ((b = in.read()) >= 0 && b != '\n') {
            if (b != '\r') {
                sb.append((char) b);
            }
        }
        if (b < 0) {
            throw new IOException("end of stream in a line: " + sb);
        }
        return sb.toString();
    }

    /** One POST of {@code body}, written on a thread of {@code writers}; expects the instance's 200. */
    private static void upload(int port, byte[] body, boolean chunked, ExecutorService writers) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            s.setSoTimeout(4 * STALL_MILLIS); // a backstop: the instance sees a stall first
            OutputStream out = s.getOutputStream();
            Future<?> writing = writers.submit(() -> {
                String head = "POST /upload HTTP/1.1\r\nHost: service-b\r\n"
                        + (chunked ? "Transfer-Encoding: chunked\r\n" : "Content-Length: " + body.length + "\r\n") + "\r\n";
                out.write(head.getBytes(StandardCharsets.US_ASCII));
                for (int at = 0; at < body.length; at += 64 * 1024) {
                    int n = Math.min(64 * 1024, body.length - at);
                    if (chunked) {
                        out.write((Integer.toHexString(n) + "\r\n").getBytes(StandardCharsets.US_ASCII));
                    }
                    out.write(body, at, n);
                    if (chunked) {
                        out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
                    }
                }
                if (chunked) {
                    out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                }
                out.flush();
                return null;
            });
            InputStream in = s.getInputStream();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            byte[] buf = new byte[4096];
            try {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    got.write(buf, 0, n);
                    String text = got.toString(StandardCharsets.ISO_8859_1);
                    int headEnd = text.indexOf("\r\n\r\n");
                    if (headEnd > 0 && text.startsWith("HTTP/1.1 200 ") && text.endsWith("ok")) {
                        break;
                    }
                }
            } catch (SocketTimeoutException stalled) {
                throw new AssertionError((chunked ? "chunked" : "content-length") + " upload: no answer; got ["
                        + got.toString(StandardCharsets.ISO_8859_1) + "]");
            }
            String text = got.toString(StandardCharsets.ISO_8859_1);
            assertTrue(text.startsWith("HTTP/1.1 200 ") && text.endsWith("ok"),
                    (chunked ? "chunked" : "content-length") + " upload: " + text.substring(0, Math.min(300, text.length())));
            writing.get(STALL_MILLIS, TimeUnit.MILLISECONDS);
        }
    }
}

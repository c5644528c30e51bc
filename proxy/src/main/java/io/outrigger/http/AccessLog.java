package io.outrigger.http;

import io.outrigger.discovery.Endpoint;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * One JSON line per request on stderr, written by a dedicated thread so no event loop ever
 * waits on the terminal or pipe, for example:
 * <pre>
 * {"edge": "outbound", "trace_id": "4bf9...", "request_id": "...", "method": "GET", "path": "/api",
 *  "service": "service-b", "instance": "127.0.0.1:9001", "status": 200, "attempts": 1, "duration_ms": 1.204}
 * </pre>
 *
 * <p>An event loop only enqueues the fields of a finished request (one small object, no
 * string building, never blocking); the writer thread formats the lines and writes them in
 * batches of whole lines. The queue is bounded ({@code capacity}, default {@value #DEFAULT_CAPACITY}):
 * when it is full the line is dropped and counted ({@link #dropped()}), and the writer reports
 * new drops on the SLF4J logger {@code outrigger.access} at WARN at most once a second. The
 * lines are plain JSON, not log messages (no logger prefix): the access log is data.
 *
 * <p>The process-wide stderr log ({@link #stderr()}) is switched off by {@code http.access_log: false}
 * or by turning the {@code outrigger.access} logger below INFO
 * ({@code -Dorg.slf4j.simpleLogger.log.outrigger.access=off}), and is drained and flushed at JVM shutdown.
 *
 * <p>Thread-safe: {@link #log} may be called from any number of threads.
 */
final class AccessLog implements AutoCloseable {
    static final int DEFAULT_CAPACITY = 65_536;
    private static final Logger LOG = LoggerFactory.getLogger("outrigger.access");
    /** Bytes handed to one write call at most (always whole lines, unless a single line is longer). */
    private static final int CHUNK = 32 * 1024;
    /** Empty polls, 1 ms apart, before the writer sleeps until woken by a producer. */
    private static final int SPINS_BEFORE_SLEEP = 50;
    private static final long DROP_REPORT_NANOS = TimeUnit.SECONDS.toNanos(1);

    private static volatile AccessLog stderr;

    private final OutputStream out;
    private final int capacity;
    private final ConcurrentLinkedQueue<Entry> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger size = new AtomicInteger();
    private final AtomicLong dropped = new AtomicLong();
    private final Thread writer;
    private volatile boolean sleeping;
    private volatile boolean closed;

    AccessLog(OutputStream out, int capacity, String threadName) {
        this.out = out;
        this.capacity = capacity;
        this.writer = new Thread(this::run, threadName);
        writer.setDaemon(true);
        writer.start();
    }

    /**
     * The process-wide access log on stderr, started on first use, or null when the
     * {@code outrigger.access} logger is below INFO.
     */
    static AccessLog stderr() {
        if (!LOG.isInfoEnabled()) {
            return null;
        }
        AccessLog log = stderr;
        if (log == null) {
            synchronized (AccessLog.class) {
                log = stderr;
                if (log == null) {
                    AccessLog created = new AccessLog(new FileOutputStream(FileDescriptor.err), DEFAULT_CAPACITY, "outrigger-access-log");
                    Runtime.getRuntime().addShutdownHook(new Thread(created::close, "outrigger-access-log-flush"));
                    stderr = log = created;
                }
            }
        }
        return log;
    }

    /** Enqueues one request's line; never blocks. False when the queue was full (the line is dropped and counted) or the log is closed. */
    boolean log(String edge, String traceId, String requestId, String method, String path, String service,
                Endpoint instance, int status, int attempts, long durationNanos) {
        if (closed || size.incrementAndGet() > capacity) {
            size.decrementAndGet();
            dropped.incrementAndGet();
            return false;
        }
        queue.offer(new Entry(edge, traceId, requestId, method, path, service, instance, status, attempts, durationNanos));
        if (sleeping) {
            sleeping = false;
            LockSupport.unpark(writer);
        }
        return true;
    }

    /** Lines dropped so far because the queue was full (or the log closed). */
    long dropped() {
        return dropped.get();
    }

    /** Writes what is queued, flushes and stops the writer; waits at most 2 seconds. Idempotent. */
    @Override
    public void close() {
        closed = true;
        LockSupport.unpark(writer);
        try {
            writer.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        StringBuilder line = new StringBuilder(512);
        byte[] buf = new byte[CHUNK];
        int[] len = {0};
        int idle = 0;
        long reported = 0;
        long lastReport = System.nanoTime() - DROP_REPORT_NANOS;
        while (true) {
            Entry e = queue.poll();
            if (e != null) {
                size.decrementAndGet();
                idle = 0;
                line.setLength(0);
                e.appendTo(line);
                append(buf, len, line.append('\n'));
                continue;
            }
            // Queue empty: the batch is complete.
            writeOut(buf, len);
            long d = dropped.get();
            if (d != reported && System.nanoTime() - lastReport >= DROP_REPORT_NANOS) {
                LOG.warn("access log queue full: {} lines dropped so far", d);
                reported = d;
                lastReport = System.nanoTime();
            }
            if (closed) {
                if (queue.isEmpty()) {
                    return;
                }
                continue;
            }
            if (++idle < SPINS_BEFORE_SLEEP) {
                LockSupport.parkNanos(1_000_000);
            } else {
                sleeping = true;
                if (queue.isEmpty() && !closed) {
                    LockSupport.park(this);
                }
                sleeping = false;
                idle = 0;
            }
        }
    }

    /** Adds one line to the batch, writing the batch out first when the line does not fit. */
    private void append(byte[] buf, int[] len, CharSequence line) {
        int n = line.length();
        if (len[0] + n > buf.length) {
            writeOut(buf, len);
        }
        if (n <= buf.length && copyAscii(line, buf, len[0])) {
            len[0] += n; // the common case: an ASCII line, copied without an intermediate String
            return;
        }
        byte[] bytes = line.toString().getBytes(StandardCharsets.UTF_8);
        if (len[0] + bytes.length > buf.length) {
            writeOut(buf, len);
        }
        if (bytes.length > buf.length) {
            write(bytes, bytes.length);
        } else {
            System.arraycopy(bytes, 0, buf, len[0], bytes.length);
            len[0] += bytes.length;
        }
    }

    /** Copies {@code s} into {@code buf} at {@code at} if it is all ASCII; false (buf partly overwritten past {@code at}) otherwise. */
    private static boolean copyAscii(CharSequence s, byte[] buf, int at) {
        for (int i = 0, n = s.length(); i < n; i++) {
            char c = s.charAt(i);
            if (c >= 0x80) {
                return false;
            }
            buf[at + i] = (byte) c;
        }
        return true;
    }

    private void writeOut(byte[] buf, int[] len) {
        if (len[0] > 0) {
            write(buf, len[0]);
            len[0] = 0;
        }
    }

    private void write(byte[] bytes, int n) {
        try {
            out.write(bytes, 0, n);
            out.flush();
        } catch (IOException e) {
            LOG.debug("access log write failed", e); // stderr gone: nothing better to do with the lines
        }
    }

    /** The fields of one finished request; formatted on the writer thread. */
    private record Entry(String edge, String traceId, String requestId, String method, String path, String service,
                         Endpoint instance, int status, int attempts, long durationNanos) {
        void appendTo(StringBuilder sb) {
            sb.append("{\"edge\": \"").append(edge).append("\", \"trace_id\": ");
            JsonText.appendString(sb, traceId).append(", \"request_id\": ");
            JsonText.appendString(sb, requestId).append(", \"method\": ");
            JsonText.appendString(sb, method).append(", \"path\": ");
            JsonText.appendString(sb, path).append(", \"service\": ");
            JsonText.appendString(sb, service).append(", \"instance\": ");
            JsonText.appendString(sb, instance == null ? null : instance.toString());
            long micros = durationNanos / 1000;
            sb.append(", \"status\": ").append(status).append(", \"attempts\": ").append(attempts)
                    .append(", \"duration_ms\": ").append(micros / 1000).append('.');
            long frac = micros % 1000;
            if (frac < 100) {
                sb.append('0');
            }
            if (frac < 10) {
                sb.append('0');
            }
            sb.append(frac).append('}');
        }
    }
}

package io.outrigger.http;

import io.netty.util.AsciiString;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.FastThreadLocal;
import io.outrigger.discovery.Endpoint;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
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
 * <p>An event loop formats the line of a finished request straight into bytes while its fields
 * are still in its cache (never blocking, no string building), into a chunk of its own, and hands
 * the chunk to the writer once per event-loop turn (a task run after the turn's I/O) or when it
 * holds {@value #BATCH} lines or {@value #CHUNK} bytes: one queue operation per chunk, not per
 * request. Formatting there is cheaper than on the writer, whose reads of fields made on another
 * core were mostly cache misses. Other threads hand their lines over one by one. The writer thread
 * only copies the chunks into its buffer and writes whole lines. What waits for the writer is
 * bounded ({@code capacity} lines, default {@value #DEFAULT_CAPACITY}, each at most
 * {@value #MAX_LINE} bytes): lines beyond it are dropped and counted ({@link #dropped()}), and
 * the writer reports new drops on the SLF4J logger {@code outrigger.access} at WARN at most once a
 * second. The lines are plain JSON, not log messages (no logger prefix): the access log is data.
 *
 * <p>The process-wide stderr log ({@link #stderr()}) is switched off by {@code http.access_log: false}
 * or by turning the {@code outrigger.access} logger below INFO
 * ({@code -Dorg.slf4j.simpleLogger.log.outrigger.access=off}). It is never closed while the process
 * lives: a sidecar's {@code close()} waits until every line of its requests is written
 * ({@link #awaitStderrWritten}), and a JVM shutdown hook does the same for what is queued, yet keeps
 * taking lines, since the drain of another shutdown hook may still be finishing requests.
 *
 * <p>Thread-safe: {@link #log} may be called from any number of threads.
 */
final class AccessLog implements AutoCloseable {
    static final int DEFAULT_CAPACITY = 65_536;
    /** Lines an event loop collects before it hands them over without waiting for the end of its turn. */
    static final int BATCH = 256;
    /** Bytes of lines an event loop collects before it hands them over without waiting for the end of its turn. */
    static final int CHUNK = 16 * 1024;
    private static final Logger LOG = LoggerFactory.getLogger("outrigger.access");
    /** Bytes the writer collects before one write call (always whole lines). */
    private static final int WRITE_CHUNK = 32 * 1024;
    /** Longest line formatted in place: its fields are cut to fit (a path longer than this is an attack, not a route). */
    private static final int MAX_LINE = 8 * 1024;
    /**
     * How long the writer naps when it finds nothing to write. Lines reach stderr at most this
     * late; in exchange a busy sidecar wakes its writer 100 times a second, not once per line or
     * per millisecond (a woken thread takes a core from the event loop or its peers).
     */
    private static final long NAP_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    /** Empty naps in a row before the writer sleeps until woken by a producer. */
    private static final int NAPS_BEFORE_SLEEP = 50;
    private static final long DROP_REPORT_NANOS = TimeUnit.SECONDS.toNanos(1);

    private static volatile AccessLog stderr;

    private final OutputStream out;
    private final int capacity;
    /** Formatted lines, oldest first. */
    private final ConcurrentLinkedQueue<Chunk> queue = new ConcurrentLinkedQueue<>();
    /** Lines queued and not yet written. */
    private final AtomicInteger size = new AtomicInteger();
    private final AtomicLong dropped = new AtomicLong();
    /** Lines accepted into the queue so far. */
    private final AtomicLong accepted = new AtomicLong();
    /** Lines written (and flushed) so far; only the writer thread advances it. */
    private volatile long written;
    private final FastThreadLocal<Batch> batches = new FastThreadLocal<>() {
        @Override
        protected Batch initialValue() {
            return new Batch();
        }
    };
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
                    // Not close(): shutdown hooks run at the same time, and a draining sidecar may still log.
                    Runtime.getRuntime().addShutdownHook(new Thread(() -> created.awaitWritten(2000), "outrigger-access-log-flush"));
                    stderr = log = created;
                }
            }
        }
        return log;
    }

    /**
     * Records one request's line from the event loop {@code loop} (batched until the end of the
     * loop's turn) or, when {@code loop} is null or not the calling thread, from any thread.
     * Never blocks. False when the line was dropped at once (queue full or log closed); a
     * batched line may still be dropped, and counted, when its batch finds the queue full.
     */
    boolean log(EventExecutor loop, String edge, CharSequence traceId, CharSequence requestId, String method, String path, String service,
                Endpoint instance, int status, int attempts, long durationNanos) {
        if (closed) {
            dropped.incrementAndGet();
            return false;
        }
        if (loop != null && loop.inEventLoop()) {
            batches.get().add(loop, edge, traceId, requestId, method, path, service, instance, status, attempts, durationNanos);
            return true;
        }
        LineFormat one = new LineFormat(new byte[MAX_LINE]);
        one.line(edge, traceId, requestId, method, path, service, instance, status, attempts, durationNanos);
        return offer(new Chunk(java.util.Arrays.copyOf(one.buf, one.len), 1));
    }

    /** {@link #log(EventExecutor, String, CharSequence, CharSequence, String, String, String, Endpoint, int, int, long)} from any thread, unbatched. */
    boolean log(String edge, CharSequence traceId, CharSequence requestId, String method, String path, String service,
                Endpoint instance, int status, int attempts, long durationNanos) {
        return log(null, edge, traceId, requestId, method, path, service, instance, status, attempts, durationNanos);
    }

    /** Queues a chunk of lines for the writer, or drops them all (counted) when they do not fit. */
    private boolean offer(Chunk chunk) {
        int count = chunk.lines;
        if (size.addAndGet(count) > capacity) {
            size.addAndGet(-count);
            dropped.addAndGet(count);
            return false;
        }
        accepted.addAndGet(count);
        queue.offer(chunk);
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

    /**
     * Waits until every line accepted before this call is written and flushed, at most
     * {@code timeoutMillis}; true when they all are. Lines still in an event loop's batch are not
     * accepted yet: call it once the loops have stopped. Not for an event loop (it waits).
     */
    boolean awaitWritten(long timeoutMillis) {
        long target = accepted.get();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (written < target) {
            if (!writer.isAlive() || System.nanoTime() - deadline >= 0) {
                return written >= target;
            }
            LockSupport.unpark(writer);
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        return true;
    }

    /** {@link #awaitWritten} on the process-wide stderr log, when there is one. */
    static boolean awaitStderrWritten(long timeoutMillis) {
        AccessLog log = stderr;
        return log == null || log.awaitWritten(timeoutMillis);
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

    /** The lines of one event loop's current turn, formatted; touched only by that loop. */
    private final class Batch implements Runnable {
        /** Room for {@value #CHUNK} bytes and one more line of the longest kind. */
        private final LineFormat format = new LineFormat(new byte[CHUNK + MAX_LINE]);
        private int count;

        void add(EventExecutor loop, String edge, CharSequence traceId, CharSequence requestId, String method, String path,
                 String service, Endpoint instance, int status, int attempts, long durationNanos) {
            format.line(edge, traceId, requestId, method, path, service, instance, status, attempts, durationNanos);
            if (++count == 1) {
                try {
                    loop.execute(this); // runs after the I/O of this turn: one hand-over per turn
                } catch (RejectedExecutionException shutDown) {
                    handOver(); // the loop takes no more tasks: hand the line over now
                    return;
                }
            }
            if (count == BATCH || format.len >= CHUNK) {
                handOver();
            }
        }

        @Override
        public void run() {
            handOver();
        }

        /** Hands over a copy of just the bytes written (the loop keeps its big buffer): what waits holds no slack. */
        private void handOver() {
            if (count > 0) {
                Chunk chunk = new Chunk(java.util.Arrays.copyOf(format.buf, format.len), count);
                format.len = 0;
                count = 0;
                offer(chunk);
            }
        }
    }

    private void run() {
        byte[] buf = new byte[WRITE_CHUNK];
        int len = 0;
        long lines = 0;
        int idle = 0;
        long reported = 0;
        long lastReport = System.nanoTime() - DROP_REPORT_NANOS;
        while (true) {
            Chunk chunk = queue.poll();
            if (chunk != null) {
                byte[] bytes = chunk.bytes;
                if (len + bytes.length > buf.length) {
                    write(buf, len);
                    len = 0;
                }
                if (bytes.length > buf.length) {
                    write(bytes, bytes.length);
                } else {
                    System.arraycopy(bytes, 0, buf, len, bytes.length);
                    len += bytes.length;
                }
                size.addAndGet(-chunk.lines);
                lines += chunk.lines;
                idle = 0;
                continue;
            }
            // Queue empty: what is collected goes out.
            write(buf, len);
            len = 0;
            written = lines;
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
            if (++idle < NAPS_BEFORE_SLEEP) {
                LockSupport.parkNanos(NAP_NANOS);
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

    private void write(byte[] bytes, int length) {
        if (length > 0) {
            try {
                out.write(bytes, 0, length);
                out.flush();
            } catch (IOException e) {
                LOG.debug("access log write failed", e); // stderr gone: nothing better to do with the lines
            }
        }
    }

    /** Formats lines (JSON, UTF-8) into a byte array, which must have room for {@value #MAX_LINE} bytes past {@code len}. */
    private static final class LineFormat {
        private static final byte[] HEX = "0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        /** Bytes of the line an {@code instance} field may take. */
        private static final int INSTANCE_ROOM = 128;
        final byte[] buf;
        int len;
        /**
         * Where the string fields of the current line must stop: fields are cut to fit, and the
         * constants, numbers and closing brace (under 256 bytes in all) always fit after it.
         */
        private int limit;

        LineFormat(byte[] buf) {
            this.buf = buf;
        }

        void line(String edge, CharSequence traceId, CharSequence requestId, String method, String path, String service,
                  Endpoint instance, int status, int attempts, long durationNanos) {
            limit = len + MAX_LINE - 256;
            ascii("{\"edge\": \"");
            ascii(edge);
            ascii("\", \"trace_id\": ");
            string(traceId, 64);
            ascii(", \"request_id\": ");
            string(requestId, 1024);
            ascii(", \"method\": ");
            string(method, 64);
            ascii(", \"path\": ");
            string(path, 6 * 1024);
            ascii(", \"service\": ");
            string(service, 256);
            ascii(", \"instance\": ");
            instance(instance);
            ascii(", \"status\": ");
            number(status);
            ascii(", \"attempts\": ");
            number(attempts);
            ascii(", \"duration_ms\": ");
            long micros = durationNanos / 1000;
            number(micros / 1000);
            buf[len++] = '.';
            long frac = micros % 1000;
            buf[len++] = (byte) ('0' + frac / 100);
            buf[len++] = (byte) ('0' + frac / 10 % 10);
            buf[len++] = (byte) ('0' + frac % 10);
            buf[len++] = '}';
            buf[len++] = '\n';
        }

        /**
         * {@code host:port} as a JSON string, or null; written from its parts, as {@link Endpoint#toString()}
         * would make a string for every request. A host holds only characters that need no escaping
         * ({@link Endpoint}); one too long for the field's room is cut as any other field.
         */
        private void instance(Endpoint instance) {
            if (instance == null) {
                ascii("null");
            } else if (instance.host().length() > INSTANCE_ROOM - 6) {
                string(instance.toString(), INSTANCE_ROOM);
            } else {
                buf[len++] = '"';
                ascii(instance.host());
                buf[len++] = ':';
                number(instance.port());
                buf[len++] = '"';
            }
        }

        /** A constant made of ASCII characters that need no escaping. */
        @SuppressWarnings("deprecation")
        private void ascii(String s) {
            int n = s.length();
            s.getBytes(0, n, buf, len); // ASCII only: the deprecated byte copy is exact and fast
            len += n;
        }

        private void number(long v) {
            if (v < 0) {
                buf[len++] = '-';
                v = -v;
            }
            int start = len;
            do {
                buf[len++] = (byte) ('0' + v % 10);
                v /= 10;
            } while (v > 0);
            for (int i = start, j = len - 1; i < j; i++, j--) {
                byte t = buf[i];
                buf[i] = buf[j];
                buf[j] = t;
            }
        }

        /**
         * {@code s} as a quoted JSON string (RFC 8259 escapes, UTF-8), or null; cut after about
         * {@code room} bytes, so one long field (a 9 KB request id) leaves the others their room,
         * and never past the line's.
         */
        private void string(CharSequence s, int room) {
            if (s == null) {
                ascii("null");
                return;
            }
            buf[len++] = '"';
            int start = len;
            int stop = Math.min(limit - 8, len + room); // limit - 8: room for the longest escape or code point
            boolean viewed = false; // utf8View is asked at the first char above ASCII: most values have none
            int n = s.length();
            for (int i = plainPrefix(s, n, stop); i < n && len < stop; i++) {
                char c = s.charAt(i);
                if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
                    buf[len++] = (byte) c;
                } else if (c == '"' || c == '\\') {
                    buf[len++] = '\\';
                    buf[len++] = (byte) c;
                } else if (c == '\n') {
                    buf[len++] = '\\';
                    buf[len++] = 'n';
                } else if (c == '\r') {
                    buf[len++] = '\\';
                    buf[len++] = 'r';
                } else if (c == '\t') {
                    buf[len++] = '\\';
                    buf[len++] = 't';
                } else if (c < 0x20) {
                    buf[len++] = '\\';
                    buf[len++] = 'u';
                    buf[len++] = '0';
                    buf[len++] = '0';
                    buf[len++] = HEX[c >> 4];
                    buf[len++] = HEX[c & 0xf];
                } else {
                    if (!viewed) {
                        viewed = true;
                        String text = s.toString();
                        String view = utf8View(text);
                        if (view != text) { // the value was UTF-8 read as ISO-8859-1: start again from its text
                            s = view;
                            n = s.length();
                            len = start;
                            i = -1;
                            continue;
                        }
                    }
                    int cp = c;
                    if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                        cp = Character.toCodePoint(c, s.charAt(++i));
                    } else if (Character.isSurrogate(c)) {
                        cp = 0xfffd; // a lone surrogate has no UTF-8 form
                    }
                    utf8(cp);
                }
            }
            buf[len++] = '"';
        }

        /**
         * Copies the leading characters of {@code s} that go into a JSON string as they are (printable ASCII
         * but {@code "} and {@code \\}), at most up to {@code stop}, and returns how many: the whole value, for
         * nearly every field. One loop per kind of value (the ids the sidecar makes are {@link AsciiString}s, what
         * a client sent is a {@link String}), so each reads its characters directly instead of through
         * {@link CharSequence#charAt}, which the JIT cannot inline where both kinds pass.
         */
        private int plainPrefix(CharSequence s, int n, int stop) {
            int max = Math.min(n, stop - len);
            int i = 0;
            if (s instanceof AsciiString a) {
                byte[] bytes = a.array();
                int off = a.arrayOffset();
                while (i < max) {
                    byte b = bytes[off + i];
                    if (b < 0x20 || b == '"' || b == '\\') { // negative: above ASCII
                        break;
                    }
                    buf[len++] = b;
                    i++;
                }
            } else if (s instanceof String str) {
                while (i < max) {
                    char c = str.charAt(i);
                    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') {
                        break;
                    }
                    buf[len++] = (byte) c;
                    i++;
                }
            }
            return i;
        }

        /**
         * A header value as the client meant it: HTTP parsers read field bytes as ISO-8859-1, one char
         * a byte, so an {@code x-request-id} sent in UTF-8 ({@code été}) arrives as {@code Ã©tÃ©}. When
         * those bytes are valid UTF-8 they are read as such; otherwise (or when there is nothing above
         * ASCII) the value stays as it is.
         */
        private static String utf8View(String s) {
            boolean high = false;
            for (int i = 0, n = s.length(); i < n; i++) {
                char c = s.charAt(i);
                if (c > 0xff) {
                    return s; // not a byte-per-char string: already text
                }
                high |= c >= 0x80;
            }
            if (!high) {
                return s;
            }
            try {
                return java.nio.charset.StandardCharsets.UTF_8.newDecoder()
                        .decode(java.nio.ByteBuffer.wrap(s.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1))).toString();
            } catch (java.nio.charset.CharacterCodingException notUtf8) {
                return s;
            }
        }

        private void utf8(int cp) {
            if (cp < 0x800) {
                buf[len++] = (byte) (0xc0 | cp >> 6);
            } else if (cp < 0x10000) {
                buf[len++] = (byte) (0xe0 | cp >> 12);
                buf[len++] = (byte) (0x80 | cp >> 6 & 0x3f);
            } else {
                buf[len++] = (byte) (0xf0 | cp >> 18);
                buf[len++] = (byte) (0x80 | cp >> 12 & 0x3f);
                buf[len++] = (byte) (0x80 | cp >> 6 & 0x3f);
            }
            buf[len++] = (byte) (0x80 | cp & 0x3f);
        }
    }

    /** {@code lines} whole formatted lines, exactly {@code bytes}: what waits holds no slack. */
    private record Chunk(byte[] bytes, int lines) {
    }
}

package io.outrigger.listener;

import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoHandlerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * An event loop's I/O handler that survives running out of memory in a turn: the
 * {@link OutOfMemoryError} is logged (one WARN line, at most one a second per loop, no stack
 * trace) and the loop goes on with its next turn.
 *
 * <p>Why: out of direct memory ({@code -XX:MaxDirectMemorySize}), Netty 4.2.18's io_uring
 * transport throws from the I/O handler itself when it cannot allocate the buffer for a
 * connection's next read (after a read completed), and nothing in the event loop catches an
 * {@link Error}: the loop's thread ended, with every connection on it, and the sidecar stayed up
 * serving nothing, even once the memory was free again. The connection whose read could not be
 * armed reads no more; {@link ReadBufferShortage} closes it. {@code -XX:+ExitOnOutOfMemoryError}
 * still ends the JVM on a heap that is full (the JVM exits before this catch); a direct buffer the
 * JDK refuses is not covered by that flag.
 *
 * <p>On epoll and NIO no such error leaves the turn: Netty catches a read buffer it cannot allocate and
 * fails that connection's read (down its pipeline, then it closes), so nothing said so above DEBUG and a
 * sidecar out of direct memory only reset connections. {@link ReadBufferShortage} reports that refusal
 * here ({@link #readBufferRefused}), for the same line at the same rate.
 */
final class OutOfMemoryGuardIoHandler extends ForwardingIoHandler {
    private static final Logger log = LoggerFactory.getLogger(OutOfMemoryGuardIoHandler.class);
    private static final long LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);

    /** The guard of the event loop the current thread runs, once that loop has run a turn. */
    private static final ThreadLocal<OutOfMemoryGuardIoHandler> OF_THIS_LOOP = new ThreadLocal<>();

    private final LongSupplier nanoTime;
    private boolean bound;
    private long lastLogNanos;
    private boolean logged;
    private int unlogged;

    OutOfMemoryGuardIoHandler(IoHandler handler, LongSupplier nanoTime) {
        super(handler);
        this.nanoTime = nanoTime;
    }

    /** {@code factory}'s handlers, each guarded. */
    static IoHandlerFactory wrap(IoHandlerFactory factory) {
        return wrapEach(factory, handler -> new OutOfMemoryGuardIoHandler(handler, System::nanoTime));
    }

    /**
     * Starts the handler; a start that runs out of memory is logged and the loop goes on. Netty 4.2.18's io_uring
     * handler fills its read ring here: refused, the ring is left unusable and the loop's connections read without
     * it, where the error would have ended the loop's thread before it served anything.
     */
    @Override
    public void initialize() {
        try {
            super.initialize();
        } catch (OutOfMemoryError e) {
            log.warn("event loop out of memory as it started: {}; it reads without its buffer ring", e.getMessage());
        }
    }

    @Override
    public int run(IoHandlerContext context) {
        if (!bound) {
            bound = true;
            OF_THIS_LOOP.set(this);
        }
        try {
            return super.run(context);
        } catch (OutOfMemoryError e) {
            outOfMemory(e);
            return 0;
        }
    }

    /**
     * Logs {@code e}, a read buffer refused to a connection that Netty then fails (epoll, NIO), as this thread's event loop logs
     * an error that left its turn; nothing on a thread that is not a guarded loop's.
     */
    static void readBufferRefused(OutOfMemoryError e) {
        OutOfMemoryGuardIoHandler guard = OF_THIS_LOOP.get();
        if (guard != null) {
            guard.outOfMemory(e);
        }
    }

    private void outOfMemory(OutOfMemoryError e) {
        long now = nanoTime.getAsLong();
        if (logged && now - lastLogNanos < LOG_INTERVAL_NANOS) {
            unlogged++;
            return;
        }
        String more = unlogged == 0 ? "" : " (and " + unlogged + " more times since the last line)";
        log.warn("event loop out of memory: {}{}; the connection that needed it is closed, the loop goes on", e.getMessage(), more);
        logged = true;
        lastLogNanos = now;
        unlogged = 0;
    }
}

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
 */
final class OutOfMemoryGuardIoHandler extends ForwardingIoHandler {
    private static final Logger log = LoggerFactory.getLogger(OutOfMemoryGuardIoHandler.class);
    private static final long LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final LongSupplier nanoTime;
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

    @Override
    public int run(IoHandlerContext context) {
        try {
            return super.run(context);
        } catch (OutOfMemoryError e) {
            outOfMemory(e);
            return 0;
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

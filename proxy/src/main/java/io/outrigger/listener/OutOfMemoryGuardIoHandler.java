package io.outrigger.listener;

import io.netty.channel.IoHandle;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.IoRegistration;
import io.netty.util.concurrent.ThreadAwareExecutor;
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
 * armed reads no more; the listeners' idle timeouts close it. {@code -XX:+ExitOnOutOfMemoryError}
 * still ends the JVM on a heap that is full (the JVM exits before this catch); a direct buffer the
 * JDK refuses is not covered by that flag.
 */
final class OutOfMemoryGuardIoHandler implements IoHandler {
    private static final Logger log = LoggerFactory.getLogger(OutOfMemoryGuardIoHandler.class);
    private static final long LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final IoHandler handler;
    private final LongSupplier nanoTime;
    private long lastLogNanos;
    private boolean logged;
    private int unlogged;

    OutOfMemoryGuardIoHandler(IoHandler handler, LongSupplier nanoTime) {
        this.handler = handler;
        this.nanoTime = nanoTime;
    }

    /** {@code factory}'s handlers, each guarded. */
    static IoHandlerFactory wrap(IoHandlerFactory factory) {
        return new IoHandlerFactory() {
            @Override
            public IoHandler newHandler(ThreadAwareExecutor executor) {
                return new OutOfMemoryGuardIoHandler(factory.newHandler(executor), System::nanoTime);
            }

            @Override
            public boolean isChangingThreadSupported() {
                return factory.isChangingThreadSupported();
            }
        };
    }

    @Override
    public int run(IoHandlerContext context) {
        try {
            return handler.run(context);
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
        log.warn("event loop out of memory: {}{}; a connection may stall until its idle timeout, the loop goes on", e.getMessage(), more);
        logged = true;
        lastLogNanos = now;
        unlogged = 0;
    }

    @Override
    public void initialize() {
        handler.initialize();
    }

    @Override
    public void prepareToDestroy() {
        handler.prepareToDestroy();
    }

    @Override
    public void destroy() {
        handler.destroy();
    }

    @Override
    public IoRegistration register(IoHandle handle) throws Exception {
        return handler.register(handle);
    }

    @Override
    public void wakeup() {
        handler.wakeup();
    }

    @Override
    public boolean isCompatible(Class<? extends IoHandle> handleType) {
        return handler.isCompatible(handleType);
    }
}

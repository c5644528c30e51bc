package io.outrigger.listener;

import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoHandlerFactory;

/**
 * An event loop's I/O handler that gives up the CPU after a busy turn: when one turn handled at
 * least {@code threshold} I/O events, the loop thread yields ({@link Thread#yield()}, Linux's
 * {@code sched_yield}) before its next turn.
 *
 * <p>Why: a sidecar shares its cores with the processes it carries traffic for (the app beside it,
 * the callers, the upstreams on the same host). A busy turn hands many of them work at once (a
 * turn's sends wake them all), and they then wait, runnable, for the CPU the event loop goes on
 * using for its next turn, and the loop later waits for them. Yielding after a busy turn lets them
 * run first, in smaller pieces, and their answers come back sooner. It costs one system call per
 * busy turn and nothing when no other thread wants the CPU ({@code sched_yield} returns at once).
 * On the 2-core benchmark machine it took Outrigger's p99 at 16 connections from about 2x
 * HAProxy's to HAProxy's, with no loss of requests/s (see bench/README.md).
 *
 * <p>Not blocking: the thread stays runnable and is back as soon as the scheduler has given the
 * waiting threads their turn. {@value #PROPERTY} sets the threshold; 0 turns yielding off.
 * Used on the event loop's own thread only, like the handler it wraps.
 */
final class YieldingIoHandler extends ForwardingIoHandler {
    /** The system property with the threshold: events in one turn after which the loop yields; 0 = never. */
    static final String PROPERTY = "outrigger.yield_after";
    /** The default threshold: 1 and 8 gave the same tails in the benchmark; 8 yields less often. */
    static final int DEFAULT_THRESHOLD = 8;

    private final int threshold;
    private final Runnable yield;

    YieldingIoHandler(IoHandler handler, int threshold, Runnable yield) {
        super(handler);
        this.threshold = threshold;
        this.yield = yield;
    }

    /** {@code factory}'s handlers, yielding after turns of at least {@value #PROPERTY} events (default {@value #DEFAULT_THRESHOLD}). */
    static IoHandlerFactory wrap(IoHandlerFactory factory) {
        int threshold = Integer.getInteger(PROPERTY, DEFAULT_THRESHOLD);
        if (threshold <= 0) {
            return factory;
        }
        return wrapEach(factory, handler -> new YieldingIoHandler(handler, threshold, Thread::yield));
    }

    @Override
    public int run(IoHandlerContext context) {
        int events = super.run(context);
        if (events >= threshold) {
            yield.run();
        }
        return events;
    }
}

package io.outrigger.listener;

import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoHandlerFactory;
import org.slf4j.LoggerFactory;

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
        int threshold = threshold(System.getProperty(PROPERTY));
        if (threshold <= 0) {
            return factory;
        }
        return wrapEach(factory, handler -> new YieldingIoHandler(handler, threshold, Thread::yield));
    }

    /**
     * The threshold {@value #PROPERTY}'s value sets: the default when unset, and also when it is not a
     * whole number, with a WARN line ({@code Integer.getInteger} would drop a typo without a word).
     */
    static int threshold(String value) {
        if (value == null) {
            return DEFAULT_THRESHOLD;
        }
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            LoggerFactory.getLogger(YieldingIoHandler.class).warn("-D{}={}: not a whole number (expected: events per turn, 0 = never);"
                    + " using {}", PROPERTY, value, DEFAULT_THRESHOLD);
            return DEFAULT_THRESHOLD;
        }
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

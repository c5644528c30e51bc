package io.outrigger.time;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Keeps a kind of warning that outside traffic can cause (a TCP client refused, a malformed
 * line-JSON request) to one a second, so a flood of bad clients cannot flood stderr. The events in
 * between go to DEBUG and are counted in the next warning. Thread-safe: shared by the connections
 * of a listener, on any event loop.
 */
public final class WarnLimiter {
    static final long INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final Ticker ticker;
    private final AtomicLong nextWarnNanos;
    private final AtomicInteger suppressed = new AtomicInteger();

    public WarnLimiter(Ticker ticker) {
        this.ticker = ticker;
        this.nextWarnNanos = new AtomicLong(ticker.nanos());
    }

    /**
     * Called for each event: the number of events not warned about since the last warning (0 or
     * more) when this one is to be a WARN, or -1 when it is to be a DEBUG line.
     */
    public int admit() {
        long now = ticker.nanos();
        long next = nextWarnNanos.get();
        if (now - next >= 0 && nextWarnNanos.compareAndSet(next, now + INTERVAL_NANOS)) {
            return suppressed.getAndSet(0);
        }
        suppressed.incrementAndGet();
        return -1;
    }
}

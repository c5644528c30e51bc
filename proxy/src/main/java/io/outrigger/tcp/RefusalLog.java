package io.outrigger.tcp;

import io.outrigger.time.Ticker;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Keeps a TCP listener's "closing client" warnings to one a second: a flood of clients against a
 * dead service would otherwise flood stderr. The refusals in between go to DEBUG and are counted
 * in the next warning. Shared by the listener's connections, on any event loop.
 */
final class RefusalLog {
    static final long INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final Ticker ticker;
    private final AtomicLong nextWarnNanos;
    private final AtomicInteger suppressed = new AtomicInteger();

    RefusalLog(Ticker ticker) {
        this.ticker = ticker;
        this.nextWarnNanos = new AtomicLong(ticker.nanos());
    }

    /**
     * Called for each refused client: the number of refusals not warned about since the last
     * warning (0 or more) when this one is to be a WARN, or -1 when it is to be a DEBUG line.
     */
    int admit() {
        long now = ticker.nanos();
        long next = nextWarnNanos.get();
        if (now - next >= 0 && nextWarnNanos.compareAndSet(next, now + INTERVAL_NANOS)) {
            return suppressed.getAndSet(0);
        }
        suppressed.incrementAndGet();
        return -1;
    }
}

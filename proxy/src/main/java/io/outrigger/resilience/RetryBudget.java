package io.outrigger.resilience;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Caps retries at a share of the requests in flight, so retries cannot multiply the load on a
 * struggling service (a retry storm).
 *
 * <p>A retry may start while the retries in flight stay below {@code max(minRetries,
 * live * percent / 100)}: the floor keeps retries possible at low traffic, where a percentage
 * of a handful of requests rounds down to nothing. Callers pair {@link #onRequestStart()} with
 * {@link #onRequestEnd()} and every granted {@link #tryAcquireRetry()} with one
 * {@link #releaseRetry()}. Lock-free (CAS) and safe to share between event loops.
 */
public final class RetryBudget {
    /** The default floor of concurrent retries, as Envoy's {@code min_retry_concurrency}. */
    public static final int DEFAULT_MIN_RETRIES = 3;

    private final int percent;
    private final int minRetries;
    private final AtomicInteger live = new AtomicInteger();
    private final AtomicInteger retries = new AtomicInteger();

    /**
     * @param percent    retries allowed as a share of live requests, 0..100 (0 allows only the floor)
     * @param minRetries retries always allowed in flight, whatever the traffic (>= 0)
     */
    public RetryBudget(int percent, int minRetries) {
        if (percent < 0 || percent > 100) {
            throw new IllegalArgumentException("percent: " + percent + " (expected: 0..100)");
        }
        if (minRetries < 0) {
            throw new IllegalArgumentException("minRetries: " + minRetries + " (expected: >= 0)");
        }
        this.percent = percent;
        this.minRetries = minRetries;
    }

    public void onRequestStart() {
        live.incrementAndGet();
    }

    public void onRequestEnd() {
        live.decrementAndGet();
    }

    /** Takes a retry from the budget; false when the budget is exhausted. */
    public boolean tryAcquireRetry() {
        for (;;) {
            int inFlight = retries.get();
            int allowed = Math.max(minRetries, (int) ((long) live.get() * percent / 100));
            if (inFlight >= allowed) {
                return false;
            }
            if (retries.compareAndSet(inFlight, inFlight + 1)) {
                return true;
            }
        }
    }

    /** Gives back a retry taken with {@link #tryAcquireRetry()}. */
    public void releaseRetry() {
        retries.decrementAndGet();
    }

    /** Requests in flight (for tests and metrics). */
    public int liveRequests() {
        return live.get();
    }

    /** Retries in flight (for tests and metrics). */
    public int retriesInFlight() {
        return retries.get();
    }
}

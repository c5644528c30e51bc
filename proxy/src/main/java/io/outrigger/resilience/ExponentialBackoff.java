package io.outrigger.resilience;

import java.util.Random;
import java.util.function.Supplier;

/**
 * {@code base * 2^(retry-1)} milliseconds, capped at {@code max}, optionally with full jitter
 * (uniform in {@code [0, delay]}, as in "Exponential Backoff And Jitter", AWS Architecture Blog).
 * Immutable and thread-safe; the random source is injected for tests.
 */
public final class ExponentialBackoff implements Backoff {
    private final long baseMillis;
    private final long maxMillis;
    private final boolean fullJitter;
    private final Supplier<? extends Random> random;

    public ExponentialBackoff(long baseMillis, long maxMillis, boolean fullJitter, Supplier<? extends Random> random) {
        if (baseMillis < 0) {
            throw new IllegalArgumentException("baseMillis: " + baseMillis + " (expected: >= 0)");
        }
        if (maxMillis < baseMillis) {
            throw new IllegalArgumentException("maxMillis: " + maxMillis + " (expected: >= baseMillis " + baseMillis + ")");
        }
        this.baseMillis = baseMillis;
        this.maxMillis = maxMillis;
        this.fullJitter = fullJitter;
        this.random = random;
    }

    @Override
    public long nextDelayMillis(int retry) {
        if (retry < 1) {
            throw new IllegalArgumentException("retry: " + retry + " (expected: >= 1)");
        }
        long delay;
        int shift = retry - 1;
        if (shift >= 62 || baseMillis > (maxMillis >> shift)) {
            delay = maxMillis;
        } else {
            delay = Math.min(maxMillis, baseMillis << shift);
        }
        if (fullJitter && delay > 0) {
            delay = (long) (random.get().nextDouble() * (delay + 1));
            delay = Math.min(delay, maxMillis);
        }
        return delay;
    }

    @Override
    public String toString() {
        return "ExponentialBackoff(base=" + baseMillis + "ms, max=" + maxMillis + "ms, jitter=" + (fullJitter ? "full" : "none") + ')';
    }
}

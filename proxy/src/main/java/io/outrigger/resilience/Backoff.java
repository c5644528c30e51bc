package io.outrigger.resilience;

/**
 * How long to wait before a retry.
 *
 * <p>Implementations are immutable and thread-safe.
 */
@FunctionalInterface
public interface Backoff {
    /**
     * Returns the delay in milliseconds before retry number {@code retry} (1 for the first
     * retry), or a negative number to stop retrying.
     */
    long nextDelayMillis(int retry);

    /** Exponential backoff {@code baseMillis * 2^(retry-1)} capped at {@code maxMillis}, no jitter. */
    static Backoff exponential(long baseMillis, long maxMillis) {
        return new ExponentialBackoff(baseMillis, maxMillis, false, java.util.concurrent.ThreadLocalRandom::current);
    }

    /** Like {@link #exponential(long, long)} with full jitter: a uniform delay in {@code [0, computed]}. */
    static Backoff exponentialWithFullJitter(long baseMillis, long maxMillis) {
        return new ExponentialBackoff(baseMillis, maxMillis, true, java.util.concurrent.ThreadLocalRandom::current);
    }

    /** This backoff, stopping after {@code maxRetries} retries. */
    default Backoff withMaxRetries(int maxRetries) {
        if (maxRetries < 0) {
            throw new IllegalArgumentException("maxRetries: " + maxRetries + " (expected: >= 0)");
        }
        Backoff self = this;
        return retry -> retry > maxRetries ? -1 : self.nextDelayMillis(retry);
    }
}

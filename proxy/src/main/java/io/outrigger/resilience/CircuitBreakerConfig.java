package io.outrigger.resilience;

/**
 * Settings of a {@link CircuitBreaker}.
 *
 * @param failureThreshold consecutive failures that open the breaker (default 5)
 * @param openMillis       how long an open breaker rejects calls before it lets probes through (default 30000)
 * @param halfOpenProbes   calls let through while half-open (default 1)
 */
public record CircuitBreakerConfig(int failureThreshold, long openMillis, int halfOpenProbes) {
    public static final CircuitBreakerConfig DEFAULT = new CircuitBreakerConfig(5, 30_000, 1);

    public CircuitBreakerConfig {
        if (failureThreshold <= 0) {
            throw new IllegalArgumentException("failureThreshold: " + failureThreshold + " (expected: > 0)");
        }
        if (openMillis < 0) {
            throw new IllegalArgumentException("openMillis: " + openMillis + " (expected: >= 0)");
        }
        if (halfOpenProbes <= 0) {
            throw new IllegalArgumentException("halfOpenProbes: " + halfOpenProbes + " (expected: > 0)");
        }
    }
}

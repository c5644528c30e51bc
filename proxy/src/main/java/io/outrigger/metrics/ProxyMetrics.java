package io.outrigger.metrics;

import io.outrigger.discovery.Endpoint;
import io.outrigger.lifecycle.ConnectionTracker;

/**
 * What the edges report for metrics. {@link MicrometerProxyMetrics} records them in a Prometheus
 * registry served at the admin listener's {@code /metrics}; {@link #NONE} drops them (the stdin node). Implementations are
 * thread-safe and never block: they are called on event loops.
 */
public interface ProxyMetrics {
    /** The service label of outcomes for a service the registry does not know (callers name services freely: labels stay bounded). */
    String UNKNOWN_SERVICE = "unknown";

    ProxyMetrics NONE = new ProxyMetrics() {
    };

    /**
     * One finished exchange.
     *
     * @param edge          {@code outbound}, {@code inbound}, {@code tcp} or {@code jsonline}
     * @param service       the target service
     * @param instance      the instance that answered last, or null when none was tried; its breaker was taken
     *                      ({@code CircuitBreakers.forInstance}) before the attempt, and an instance without one any more
     *                      has left the registry, so its exchange is counted without the instance
     * @param status        the HTTP status sent to the caller (0 for a TCP or line-JSON success, which has none)
     * @param attempts      attempts made, retries included
     * @param durationNanos time from request start to the end of the response
     */
    default void onExchange(String edge, String service, Endpoint instance, int status, int attempts, long durationNanos) {
    }

    /** A retry was made for {@code service}: counted when its attempt starts, not when it is planned. */
    default void onRetry(String edge, String service) {
    }

    /** A retry was refused by the retry budget. */
    default void onRetryBudgetExhausted(String edge, String service) {
    }

    /** Publishes the connection counts of a sidecar's listeners (read at each scrape). */
    default void bindConnections(ConnectionTracker connections) {
    }
}

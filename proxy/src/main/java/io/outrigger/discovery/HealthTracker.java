package io.outrigger.discovery;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The sidecar's own view of each instance's health, with the reason for it.
 *
 * <p>Marks come from passive reports (the line-JSON {@code health} message, outlier detection)
 * and active checks. An instance never marked is healthy. Thread-safe.
 */
public final class HealthTracker {

    /** One instance's health and why. */
    public record Health(boolean healthy, String reason) {
        public static final Health UNKNOWN_HEALTHY = new Health(true, "no failures seen");
    }

    private final Map<String, Map<Endpoint, Health>> byService = new ConcurrentHashMap<>();

    public Health health(String service, Endpoint endpoint) {
        Map<Endpoint, Health> m = byService.get(service);
        Health h = m == null ? null : m.get(endpoint);
        return h == null ? Health.UNKNOWN_HEALTHY : h;
    }

    public boolean isHealthy(String service, Endpoint endpoint) {
        return health(service, endpoint).healthy();
    }

    public void mark(String service, Endpoint endpoint, boolean healthy, String reason) {
        byService.computeIfAbsent(service, s -> new ConcurrentHashMap<>()).put(endpoint, new Health(healthy, reason));
    }

    /**
     * Reports a successful exchange with an instance in real traffic (input to passive
     * outlier detection). Called on event loops; never blocks.
     */
    public void onSuccess(String service, Endpoint endpoint) {
    }

    /**
     * Reports a failed exchange with an instance in real traffic (connect error, reset,
     * timeout, 5xx): input to passive outlier detection. Called on event loops; never blocks.
     */
    public void onFailure(String service, Endpoint endpoint, String cause) {
    }
}

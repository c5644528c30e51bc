package io.outrigger.registry.consul;

/**
 * One registered instance. Immutable: a status change makes a new value with the same {@code serial}.
 *
 * @param serial        unique per registration, so a check of a replaced registration can tell it is stale
 * @param check         the HTTP check, or null (then the instance is always passing)
 * @param criticalSince ticker nanos when it turned critical (meaningless while passing)
 */
public record ServiceInstance(long serial, String id, String service, String address, int port, HttpCheck check,
                              boolean passing, long criticalSince) {

    ServiceInstance withStatus(boolean nowPassing, long now) {
        return new ServiceInstance(serial, id, service, address, port, check, nowPassing, nowPassing ? 0 : now);
    }

    public String status() {
        return passing ? "passing" : "critical";
    }
}

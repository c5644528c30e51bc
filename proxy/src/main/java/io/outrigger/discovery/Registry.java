package io.outrigger.discovery;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Where service instances come from: a file, or a Consul-style registry.
 *
 * <p>Reads never block and never fail: an implementation that follows a remote registry
 * answers from its last known state. Implementations are thread-safe.
 */
public interface Registry extends AutoCloseable {

    /** The instances of a service in registration order; empty for an unknown service. */
    List<Endpoint> endpoints(String service);

    /**
     * The instances of a service as last known, without asking the registry to start following a service it does
     * not list (as {@link #endpoints} may, for traffic): for bookkeeping over services seen before, such as health
     * state and active checks, which would otherwise keep watching a service that left the registry.
     */
    default List<Endpoint> listed(String service) {
        return endpoints(service);
    }

    /**
     * Instances of a service the registry lists but does not offer for traffic, each with the
     * registry's reason (a Consul-style check that is not passing); never routed to, shown so an
     * operator sees why an instance is missing. Empty by default.
     */
    default Map<Endpoint, String> withheld(String service) {
        return Map.of();
    }

    /** Whether the registry knows this service (it may still have no instance). */
    boolean contains(String service);

    /** The names of all known services. */
    Set<String> services();

    /**
     * Every instance the registry lists for any service it answers for, passing or withheld (a withheld one
     * may pass again). By default those of {@link #services()}; a registry that also answers for services
     * outside that set (asked for by name) includes theirs.
     */
    default Set<Endpoint> allEndpoints() {
        Set<Endpoint> all = new java.util.HashSet<>();
        for (String service : services()) {
            all.addAll(endpoints(service));
            all.addAll(withheld(service).keySet());
        }
        return all;
    }

    /** Completes once the registry has answered once (at once for a file). */
    default CompletableFuture<Void> ready() {
        return CompletableFuture.completedFuture(null);
    }

    /**
     * Whether the registry failed to answer its last query, so that the instances are the last known ones
     * (a remote registry during an outage); false for a file. Shown at {@code /clusters} and in {@code /metrics}.
     */
    default boolean stale() {
        return false;
    }

    /** Registers a callback run (on any thread) after the set of instances changed. */
    default void onChange(Runnable listener) {
    }

    /** A short description for logs and {@code /config}, such as {@code file:config/registry.json}. */
    String describe();

    @Override
    default void close() {
    }
}

package io.outrigger.resilience;

import io.outrigger.discovery.Endpoint;
import io.outrigger.time.Ticker;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * One {@link CircuitBreaker} per key, created on first use: a service name, or
 * {@link #instanceKey(String, Endpoint) service/host:port} for one instance. Thread-safe.
 */
public final class CircuitBreakers {
    private final CircuitBreakerConfig config;
    private final Ticker ticker;
    private final Map<String, CircuitBreaker> breakers = new ConcurrentHashMap<>();
    /** The instance breakers again, by service and endpoint, so hot paths look them up without building key strings. */
    private final Map<String, Map<Endpoint, CircuitBreaker>> byInstance = new ConcurrentHashMap<>();
    private final List<CircuitBreakerListener> listeners = new CopyOnWriteArrayList<>();
    private final List<Lifecycle> lifecycles = new CopyOnWriteArrayList<>();

    /** Told when a breaker is created and when one is forgotten; called on the thread that did it, must be quick. */
    public interface Lifecycle {
        void onCreated(CircuitBreaker breaker);

        void onRemoved(CircuitBreaker breaker);
    }

    public CircuitBreakers(CircuitBreakerConfig config, Ticker ticker) {
        this.config = config;
        this.ticker = ticker;
    }

    /** The key of one instance's breaker. */
    public static String instanceKey(String service, Endpoint endpoint) {
        return service + '/' + endpoint.host() + ':' + endpoint.port();
    }

    /** Adds a listener to every breaker, present and future. */
    public void addListener(CircuitBreakerListener listener) {
        listeners.add(listener);
        breakers.values().forEach(b -> b.addListener(listener));
    }

    /** Adds a lifecycle listener, told at once about every breaker there is. */
    public void addLifecycle(Lifecycle lifecycle) {
        lifecycles.add(lifecycle);
        breakers.values().forEach(lifecycle::onCreated);
    }

    /** The breaker of a service. */
    public CircuitBreaker forService(String service) {
        return get(service);
    }

    /** The breaker of one instance of a service, created closed on first use. */
    public CircuitBreaker forInstance(String service, Endpoint endpoint) {
        CircuitBreaker b = findInstance(service, endpoint);
        if (b != null) {
            return b;
        }
        b = get(instanceKey(service, endpoint));
        CircuitBreaker known = byInstance.computeIfAbsent(service, s -> new ConcurrentHashMap<>()).putIfAbsent(endpoint, b);
        return known != null ? known : b;
    }

    /**
     * The breaker of one instance if {@link #forInstance} created it, else null; allocation-free
     * (two map lookups, no key string).
     */
    public CircuitBreaker findInstance(String service, Endpoint endpoint) {
        Map<Endpoint, CircuitBreaker> m = byInstance.get(service);
        return m == null ? null : m.get(endpoint);
    }

    /**
     * Forgets the instance breakers of {@code service} whose instance is not in {@code keep}: the registry
     * no longer lists it, so its breaker (open, maybe, from the failures that came before it left) would
     * otherwise stay for good, in {@code /metrics} too, and grow with every instance that ever came and went.
     * An instance that registers again starts with a new, closed breaker. Exchanges still holding the old
     * breaker report to it harmlessly. The service's own breaker stays.
     */
    public void retainInstances(String service, Set<Endpoint> keep) {
        Map<Endpoint, CircuitBreaker> m = byInstance.get(service);
        if (m == null) {
            return;
        }
        for (Map.Entry<Endpoint, CircuitBreaker> e : m.entrySet()) {
            if (!keep.contains(e.getKey()) && m.remove(e.getKey(), e.getValue())) {
                breakers.remove(instanceKey(service, e.getKey()), e.getValue());
                lifecycles.forEach(l -> l.onRemoved(e.getValue()));
            }
        }
    }

    /** The services that have instance breakers. */
    public Set<String> servicesWithInstanceBreakers() {
        return byInstance.keySet();
    }

    /** The breaker for a key, created closed on first use. */
    public CircuitBreaker get(String key) {
        CircuitBreaker b = breakers.get(key);
        return b != null ? b : breakers.computeIfAbsent(key, this::create);
    }

    /** The breaker for a key if one was created, else null. */
    public CircuitBreaker find(String key) {
        return breakers.get(key);
    }

    public Collection<CircuitBreaker> all() {
        return breakers.values();
    }

    public CircuitBreakerConfig config() {
        return config;
    }

    private CircuitBreaker create(String key) {
        CircuitBreaker b = new CircuitBreaker(key, config, ticker);
        listeners.forEach(b::addListener);
        lifecycles.forEach(l -> l.onCreated(b));
        return b;
    }
}

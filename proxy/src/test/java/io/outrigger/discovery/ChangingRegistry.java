package io.outrigger.discovery;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A registry whose instances a test changes, telling its listeners as a Consul-style registry does; it
 * has answered ({@link #ready}) from the start unless made with {@code answered} false.
 */
public final class ChangingRegistry implements Registry {
    private final Map<String, List<Endpoint>> passing = new ConcurrentHashMap<>();
    private final Map<String, Map<Endpoint, String>> critical = new ConcurrentHashMap<>();
    private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
    private final CompletableFuture<Void> ready = new CompletableFuture<>();

    public ChangingRegistry() {
        this(true);
    }

    public ChangingRegistry(boolean answered) {
        if (answered) {
            ready.complete(null);
        }
    }

    /** Sets a service's routable instances and those it lists as not passing (with the registry's reason). */
    public void set(String service, List<Endpoint> up, Map<Endpoint, String> down) {
        passing.put(service, up);
        critical.put(service, down);
        listeners.forEach(Runnable::run);
    }

    /** The service leaves the registry. */
    public void remove(String service) {
        passing.remove(service);
        critical.remove(service);
        listeners.forEach(Runnable::run);
    }

    /** The first whole answer, for a registry made with {@code answered} false. */
    public void answer() {
        ready.complete(null);
    }

    @Override
    public List<Endpoint> endpoints(String service) {
        return passing.getOrDefault(service, List.of());
    }

    @Override
    public Map<Endpoint, String> withheld(String service) {
        return critical.getOrDefault(service, Map.of());
    }

    @Override
    public boolean contains(String service) {
        return passing.containsKey(service);
    }

    @Override
    public Set<String> services() {
        return passing.keySet();
    }

    @Override
    public CompletableFuture<Void> ready() {
        return ready;
    }

    @Override
    public void onChange(Runnable listener) {
        listeners.add(listener);
    }

    @Override
    public String describe() {
        return "test:changing";
    }
}

package io.outrigger.testing;

import io.outrigger.discovery.Endpoint;
import io.outrigger.discovery.Registry;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/** A registry whose instances a test changes, telling its listeners as a Consul-style registry does. */
public final class ChangingRegistry implements Registry {
    private final Map<String, List<Endpoint>> passing = new ConcurrentHashMap<>();
    private final Map<String, Map<Endpoint, String>> critical = new ConcurrentHashMap<>();
    private final List<Runnable> listeners = new CopyOnWriteArrayList<>();

    /** Lists {@code up} as {@code service}'s passing instances and {@code down} as withheld ones (with their reasons), then tells the listeners. */
    public void set(String service, List<Endpoint> up, Map<Endpoint, String> down) {
        passing.put(service, up);
        critical.put(service, down);
        listeners.forEach(Runnable::run);
    }

    /** {@link #set(String, List, Map)} with passing instances only. */
    public void set(String service, Endpoint... up) {
        set(service, List.of(up), Map.of());
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
    public void onChange(Runnable listener) {
        listeners.add(listener);
    }

    @Override
    public String describe() {
        return "test:changing";
    }
}

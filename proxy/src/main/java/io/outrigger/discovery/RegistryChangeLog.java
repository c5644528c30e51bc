package io.outrigger.discovery;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Logs, at INFO, which instances a registry change added to a service's routable set and which it took
 * away (with the registry's reason when it still lists one), one line per service that changed:
 * <pre>
 *   registry: service-b: 3 instances: +127.0.0.1:9003, -127.0.0.1:9001 (critical)
 * </pre>
 * Without it an operator saw only the start-up "N services" line and outages: an instance that came or
 * went left no trace in the log. The first state (the registry's first answer) is only remembered, as
 * start-up logs its own summary. A registry listener ({@link Registry#onChange}); thread-safe.
 */
public final class RegistryChangeLog implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(RegistryChangeLog.class);
    /** Instances named in one line at most; the count says the rest. */
    private static final int MAX_NAMED = 8;

    private final Registry registry;
    private Map<String, Set<Endpoint>> last;

    public RegistryChangeLog(Registry registry) {
        this.registry = registry;
    }

    @Override
    public synchronized void run() {
        if (!registry.ready().isDone()) {
            return; // still filling in: the first whole answer is the starting point
        }
        Map<String, Set<Endpoint>> now = new HashMap<>();
        for (String service : registry.services()) {
            now.put(service, new LinkedHashSet<>(registry.endpoints(service)));
        }
        Map<String, Set<Endpoint>> before = last;
        last = now;
        if (before == null) {
            return;
        }
        Set<String> services = new TreeSet<>(before.keySet());
        services.addAll(now.keySet());
        for (String service : services) {
            Set<Endpoint> was = before.getOrDefault(service, Set.of());
            Set<Endpoint> is = now.getOrDefault(service, Set.of());
            if (!was.equals(is)) {
                log.info("registry: {}: {}", service, describe(service, was, is, now.containsKey(service)));
            }
        }
    }

    private String describe(String service, Set<Endpoint> was, Set<Endpoint> is, boolean listed) {
        StringBuilder line = new StringBuilder();
        line.append(is.size()).append(is.size() == 1 ? " instance" : " instances");
        if (!listed) {
            line.append(" (the service left the registry)");
        }
        Map<Endpoint, String> withheld = listed ? registry.withheld(service) : Map.of();
        List<String> changes = new java.util.ArrayList<>();
        for (Endpoint e : is) {
            if (!was.contains(e)) {
                changes.add("+" + e);
            }
        }
        for (Endpoint e : was) {
            if (!is.contains(e)) {
                String why = withheld.get(e);
                changes.add("-" + e + (why != null ? " (" + why + ")" : ""));
            }
        }
        line.append(": ").append(String.join(", ", changes.subList(0, Math.min(MAX_NAMED, changes.size()))));
        if (changes.size() > MAX_NAMED) {
            line.append(" and ").append(changes.size() - MAX_NAMED).append(" more");
        }
        return line.toString();
    }
}

package io.outrigger.discovery;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The INFO line a registry writes when a service's routable instances change after its first answer:
 * which instances came, which went (with the registry's reason when it still lists one), one line per
 * service and change:
 * <pre>
 *   registry: service-b: 2 instances: +127.0.0.1:9003, -127.0.0.1:9001 (registry check critical)
 * </pre>
 * Without it an operator saw only the start-up "N services" line and outages: an instance that came or
 * went left no trace in the log. Stateless: the registry knows both sides of the change where it makes it.
 */
final class RegistryChangeLog {
    private static final Logger log = LoggerFactory.getLogger(RegistryChangeLog.class);
    /** Instances named in one line at most; the count says the rest. */
    private static final int MAX_NAMED = 8;

    private RegistryChangeLog() {
    }

    /**
     * Logs the change of {@code service}'s routable instances from {@code before} (null: a service new to the
     * registry) to {@code after} (null: the service left the registry).
     *
     * @param withheld the instances the registry lists but does not route to, with its reason
     */
    static void changed(String service, List<Endpoint> before, List<Endpoint> after, Map<Endpoint, String> withheld) {
        List<Endpoint> was = before == null ? List.of() : before;
        List<Endpoint> is = after == null ? List.of() : after;
        List<String> changes = new ArrayList<>();
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
        if (changes.isEmpty()) {
            return; // the same instances in another order
        }
        StringBuilder line = new StringBuilder().append(is.size()).append(is.size() == 1 ? " instance" : " instances");
        if (after == null) {
            line.append(" (the service left the registry)");
        }
        line.append(": ").append(String.join(", ", changes.subList(0, Math.min(MAX_NAMED, changes.size()))));
        if (changes.size() > MAX_NAMED) {
            line.append(" and ").append(changes.size() - MAX_NAMED).append(" more");
        }
        log.info("registry: {}: {}", service, line);
    }
}

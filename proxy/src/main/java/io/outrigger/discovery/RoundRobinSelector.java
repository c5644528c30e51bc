package io.outrigger.discovery;

import io.outrigger.resilience.CircuitBreaker;
import io.outrigger.resilience.CircuitBreakers;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Picks an instance of a service round-robin over the healthy instances whose breaker would
 * let a call through. When none is left it answers null and the edge replies 503 "no healthy
 * instance": there is no panic mode that would send traffic to instances known to be bad.
 * Thread-safe and lock-free.
 */
public final class RoundRobinSelector {
    private final Registry registry;
    private final HealthTracker health;
    private final CircuitBreakers breakers;
    private final Map<String, AtomicInteger> cursors = new ConcurrentHashMap<>();

    public RoundRobinSelector(Registry registry, HealthTracker health, CircuitBreakers breakers) {
        this.registry = registry;
        this.health = health;
        this.breakers = breakers;
    }

    /** The healthy instances of a service, in registration order (breaker state not considered). */
    public List<Endpoint> healthy(String service) {
        List<Endpoint> all = registry.endpoints(service);
        List<Endpoint> out = new ArrayList<>(all.size());
        for (Endpoint e : all) {
            if (health.isHealthy(service, e)) {
                out.add(e);
            }
        }
        return out;
    }

    /**
     * The next healthy instance whose breaker permits a call, skipping {@code exclude} when
     * another choice exists; null when none is left. A first attempt ({@code exclude} empty) takes
     * the service's next turn; a retry the instance after the one tried last.
     */
    public Endpoint next(String service, Collection<Endpoint> exclude) {
        return pick(service, exclude, true);
    }

    /**
     * The answer to a question about routing that sends no traffic (line-JSON {@code route}): the
     * same turn of the round robin as {@link #next(String)}, but the service does not become one
     * this sidecar routes to, so the answer starts no active health checks of its instances (the
     * example addresses of {@code config/registry.json} are never probed).
     */
    public Endpoint nextWithoutTraffic(String service) {
        return pick(service, List.of(), false);
    }

    private Endpoint pick(String service, Collection<Endpoint> exclude, boolean routed) {
        List<Endpoint> all = registry.endpoints(service);
        int n = all.size();
        if (n == 0) {
            return null; // not noted: callers name services freely (line-JSON route), and each name would stay for good
        }
        if (routed) {
            health.noteRouted(service);
        }
        if (exclude.isEmpty()) {
            return turn(service, all, cursors.computeIfAbsent(service, s -> new AtomicInteger()).getAndIncrement());
        }
        int start = after(all, exclude);
        Endpoint fallback = null;
        for (int i = 0; i < n; i++) {
            Endpoint e = all.get((start + i) % n);
            if (!callable(service, e)) {
                continue;
            }
            if (exclude.contains(e)) {
                if (fallback == null) {
                    fallback = e;
                }
                continue;
            }
            return e;
        }
        return fallback;
    }

    /**
     * The instance whose turn {@code turn} is among the callable ones: counted over them, not over all the
     * registered ones, so each callable instance gets its turn alike (counted over all, the instance after
     * one left out got its turn too: with B of A, B, C unhealthy, A, C, C, A). No allocation: one pass
     * counts them, a second (only when some are not callable) finds the one; an instance whose state changed
     * in between is taken or skipped as the second pass finds it (the last callable one it saw, when fewer are left).
     */
    private Endpoint turn(String service, List<Endpoint> all, int turn) {
        int callable = 0;
        for (Endpoint e : all) {
            if (callable(service, e)) {
                callable++;
            }
        }
        if (callable == 0) {
            return null;
        }
        int k = Math.floorMod(turn, callable);
        if (callable == all.size()) {
            return all.get(k); // every instance callable, the common case: no second pass
        }
        Endpoint last = null;
        for (Endpoint e : all) {
            if (callable(service, e)) {
                if (k-- == 0) {
                    return e;
                }
                last = e;
            }
        }
        return last;
    }

    /** Healthy, and its breaker (if it has one) would let a call through. */
    private boolean callable(String service, Endpoint e) {
        if (!health.isHealthy(service, e)) {
            return false;
        }
        CircuitBreaker b = breakers.findInstance(service, e);
        return b == null || b.isCallPermitted();
    }

    /**
     * Where a retry starts looking: after the instance tried last, so that it moves on without
     * advancing the service's cursor. Advanced by retries too, the cursor would hand every first
     * attempt to the instance before a failing one's successor: with two instances and one failing,
     * the failing one got every first attempt.
     */
    private static int after(List<Endpoint> all, Collection<Endpoint> tried) {
        Endpoint last = null;
        if (tried instanceof List<Endpoint> list) {
            last = list.get(list.size() - 1);
        } else {
            for (Endpoint e : tried) {
                last = e;
            }
        }
        return (all.indexOf(last) + 1) % all.size(); // not listed any more (-1): from the first
    }

    /** Whether some healthy instance's breaker would let a call through now; takes no turn of the round robin. */
    public boolean anyCallable(String service) {
        for (Endpoint e : registry.endpoints(service)) {
            if (callable(service, e)) {
                return true;
            }
        }
        return false;
    }

    public Endpoint next(String service) {
        return next(service, List.of());
    }
}

package io.outrigger;

import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.Endpoint;
import io.outrigger.discovery.HealthTracker;
import io.outrigger.discovery.Registry;
import io.outrigger.discovery.RoundRobinSelector;
import io.outrigger.metrics.ProxyMetrics;
import io.outrigger.resilience.Backoff;
import io.outrigger.resilience.CircuitBreakers;
import io.outrigger.resilience.RetryBudget;
import io.outrigger.time.Ticker;

import java.time.Clock;
import java.util.HashSet;
import java.util.Set;

/**
 * The state every edge of one sidecar shares: configuration, registry, health, breakers and
 * the instance selector. The HTTP, TCP and line-JSON edges all route through these, so a
 * failure seen on one edge is visible to the others. Thread-safe; built once at start.
 */
public final class SidecarContext {
    private final SidecarConfig config;
    private final Ticker ticker;
    private final Registry registry;
    private final HealthTracker health;
    private final CircuitBreakers breakers;
    private final RoundRobinSelector selector;
    private final ProxyMetrics metrics;
    private final RetryBudget retryBudget;

    public SidecarContext(SidecarConfig config, Registry registry, Ticker ticker) {
        this(config, registry, ticker, ProxyMetrics.NONE);
    }

    public SidecarContext(SidecarConfig config, Registry registry, Ticker ticker, ProxyMetrics metrics) {
        this.config = config;
        this.metrics = metrics;
        this.ticker = ticker;
        this.registry = registry;
        SidecarConfig.Health h = config.health();
        this.health = new HealthTracker(registry, ticker, Clock.systemUTC(), new HealthTracker.Settings(
                h.ejectAfterFailures(), h.ejectionMillis(), h.maxEjectionMillis(), h.maxEjectedPercent(),
                h.unhealthyAfter(), h.healthyAfter()));
        registry.onChange(health::syncWithRegistry);
        this.breakers = new CircuitBreakers(config.resilience().breaker(), ticker);
        registry.onChange(this::forgetBreakersOfDepartedInstances);
        this.selector = new RoundRobinSelector(registry, health, breakers);
        this.retryBudget = new RetryBudget(config.resilience().retry().budgetPercent(), RetryBudget.DEFAULT_MIN_RETRIES);
    }

    /**
     * Drops the breakers of instances the registry no longer lists (passing or not). The local app behind
     * the inbound listener is no registry instance; its breaker stays.
     */
    private void forgetBreakersOfDepartedInstances() {
        SidecarConfig.Inbound inbound = config.listeners().inbound();
        for (String service : breakers.servicesWithInstanceBreakers()) {
            Set<Endpoint> keep = new HashSet<>(registry.listed(service));
            keep.addAll(registry.withheld(service).keySet());
            if (inbound != null && service.equals(config.service())) {
                keep.add(inbound.app());
            }
            breakers.retainInstances(service, keep);
        }
    }

    public SidecarConfig config() {
        return config;
    }

    public String name() {
        return config.name();
    }

    public Ticker ticker() {
        return ticker;
    }

    public Registry registry() {
        return registry;
    }

    public HealthTracker health() {
        return health;
    }

    public CircuitBreakers breakers() {
        return breakers;
    }

    public ProxyMetrics metrics() {
        return metrics;
    }

    public RoundRobinSelector selector() {
        return selector;
    }

    /** The configured retry backoff, without a retry limit. */
    public Backoff backoff() {
        SidecarConfig.Retry r = config.resilience().retry();
        return r.fullJitter() ? Backoff.exponentialWithFullJitter(r.baseMillis(), r.maxMillis())
                : Backoff.exponential(r.baseMillis(), r.maxMillis());
    }

    /** The retry budget every edge of this sidecar shares ({@code resilience.retry.budget_percent}). */
    public RetryBudget retryBudget() {
        return retryBudget;
    }
}

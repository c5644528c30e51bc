package io.outrigger.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.util.internal.PlatformDependent;
import io.outrigger.SidecarContext;
import io.outrigger.discovery.Endpoint;
import io.outrigger.lifecycle.ConnectionTracker;
import io.outrigger.resilience.CircuitBreaker;
import io.outrigger.resilience.CircuitBreakers;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * {@link ProxyMetrics} recorded in a Micrometer {@link PrometheusMeterRegistry} and served by
 * the admin listener's {@code GET /metrics}.
 *
 * <p>Series (every one also carries {@code sidecar}, the sidecar's name):
 * <pre>
 *   outrigger_requests_total{edge,service,instance,status_class}      exchanges per instance
 *   outrigger_request_duration_seconds{edge,service,status_class}    latency histogram (fixed buckets 1 ms .. 15 s)
 *   outrigger_attempts_total{edge,service}                            attempts, retries included
 *   outrigger_retries_total{edge,service}                             retries made
 *   outrigger_retry_budget_exhausted_total{edge,service}              retries refused by the budget
 *   outrigger_breaker_state{breaker,service,instance,state}           1 for the breaker's current state, else 0
 *   outrigger_breaker_consecutive_failures{breaker,service,instance}
 *   outrigger_breaker_transitions_total{breaker,service,instance,from,to}  the usual four at 0 from a breaker's creation
 *   outrigger_instance_healthy{service,instance}                      1 healthy, 0 not
 *   outrigger_registry_stale                                          1 while the registry does not answer (for some service or all), else 0
 *   outrigger_direct_memory_used_bytes, outrigger_direct_memory_max_bytes   Netty's own count of its direct buffers
 * </pre>
 * plus Micrometer's JVM and process series ({@code jvm_memory_*}, {@code jvm_gc_*}, {@code jvm_threads_*},
 * {@code process_cpu_usage}, {@code process_uptime_seconds}), so the sidecar's own cost is visible.
 * Labels stay bounded: statuses are reduced to their class ({@code 2xx} .. {@code 5xx}, {@code none}
 * for outcomes without a status), instances come from the registry, and paths are never labels.
 * The histogram has no {@code instance} label so its size does not grow with the fleet.
 *
 * <p>Thread-safe; the recording methods are called on event loops and never block: meters are
 * cached per label set, so the hot path is a map lookup and an atomic add.
 */
public final class MicrometerProxyMetrics implements ProxyMetrics {
    private static final String TRANSITIONS = "outrigger.breaker.transitions";
    /** The transitions a breaker makes by itself; set by hand (line-JSON {@code state}), others appear when made. */
    private static final CircuitBreaker.State[][] USUAL_TRANSITIONS = {
            {CircuitBreaker.State.CLOSED, CircuitBreaker.State.OPEN},
            {CircuitBreaker.State.OPEN, CircuitBreaker.State.HALF_OPEN},
            {CircuitBreaker.State.HALF_OPEN, CircuitBreaker.State.CLOSED},
            {CircuitBreaker.State.HALF_OPEN, CircuitBreaker.State.OPEN},
    };

    /** Bucket bounds of the latency histogram. */
    static final Duration[] LATENCY_BUCKETS = {
            Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5), Duration.ofMillis(10),
            Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250),
            Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5),
            Duration.ofSeconds(15)};
    private static final String SERVICE_LEVEL = "";

    private final PrometheusMeterRegistry registry;
    private final Map<ExchangeKey, ExchangeMeters> exchanges = new ConcurrentHashMap<>();
    private final Map<EdgeKey, Counter> attempts = new ConcurrentHashMap<>();
    private final Map<EdgeKey, Counter> retries = new ConcurrentHashMap<>();
    private final Map<EdgeKey, Counter> budgetExhausted = new ConcurrentHashMap<>();
    private final MultiGauge breakerState;
    private final MultiGauge breakerFailures;
    private final MultiGauge instanceHealthy;
    private final MultiGauge connectionsOpen;
    private volatile SidecarContext context;
    private volatile ConnectionTracker connections;
    private final Set<ConnectionTracker.ListenerCounts> countedListeners = ConcurrentHashMap.newKeySet();

    /** Status classes by index: 0 none, 1..5 the HTTP classes, 6 anything else. */
    private static final String[] STATUS_CLASSES = {"none", "1xx", "2xx", "3xx", "4xx", "5xx", "other"};

    private record ExchangeKey(String edge, String service, Endpoint instance) {}

    private record EdgeKey(String edge, String service) {}

    private MicrometerProxyMetrics(PrometheusMeterRegistry registry) {
        this.registry = registry;
        this.breakerState = MultiGauge.builder("outrigger.breaker.state")
                .description("1 for the breaker's current state, 0 for the others").register(registry);
        this.breakerFailures = MultiGauge.builder("outrigger.breaker.consecutive.failures")
                .description("failures since the breaker's last success").register(registry);
        this.instanceHealthy = MultiGauge.builder("outrigger.instance.healthy")
                .description("1 when the sidecar considers the instance healthy").register(registry);
        this.connectionsOpen = MultiGauge.builder("outrigger.connections.open")
                .description("client connections open on each listener").register(registry);
    }

    /** A fresh Prometheus registry whose series all carry {@code sidecar="<sidecarName>"}, with JVM metrics. */
    public static MicrometerProxyMetrics create(String sidecarName) {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry.config().commonTags("sidecar", sidecarName);
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry); // lives as long as the process: never closed
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        // The jar lets Netty allocate direct buffers itself (see cli.Main): the JDK's jvm_buffer_memory_used_bytes{id="direct"}
        // no longer sees them, so Netty's own count is published.
        Gauge.builder("outrigger.direct.memory.used", PlatformDependent::usedDirectMemory).baseUnit("bytes")
                .description("direct memory in Netty's buffers, by its own count; -1 with -Dio.netty.maxDirectMemory=0")
                .register(registry);
        Gauge.builder("outrigger.direct.memory.max", PlatformDependent::maxDirectMemory).baseUnit("bytes")
                .description("the direct memory Netty may allocate (-XX:MaxDirectMemorySize, or the heap's maximum by default)")
                .register(registry);
        return new MicrometerProxyMetrics(registry);
    }

    @Override
    public void bindConnections(ConnectionTracker connections) {
        this.connections = connections;
        Gauge.builder("outrigger.connections.max", connections, ConnectionTracker::maxConnections).strongReference(true)
                .description("max_connections: at this many open connections a listener that carries traffic stops accepting")
                .register(registry);
    }

    /**
     * Follows a sidecar's breakers (transitions counted from now on) and, at each scrape, its
     * breakers' states and its instances' health. Call once (a second call would count
     * transitions twice), after the context is built.
     */
    public void bindTo(SidecarContext context) {
        this.context = context;
        Gauge.builder("outrigger.registry.stale", context, c -> c.registry().stale() ? 1 : 0)
                .description("1 while the registry does not answer, for some service or all, and the last known instances are used, else 0")
                .register(registry);
        context.breakers().addListener((breaker, from, to, reason) -> {
            if (published(context, breaker.name())) {
                transitions(breakerTags(breaker.name()).and("from", from.wireName(), "to", to.wireName())).increment();
            }
        });
        context.breakers().addLifecycle(new CircuitBreakers.Lifecycle() {
            @Override
            public void onCreated(CircuitBreaker breaker) {
                // At 0 from the start: increase() sees a breaker's first opening only if the series was there before it.
                if (!published(context, breaker.name())) {
                    return;
                }
                Tags tags = breakerTags(breaker.name());
                for (CircuitBreaker.State[] t : USUAL_TRANSITIONS) {
                    transitions(tags.and("from", t[0].wireName(), "to", t[1].wireName()));
                }
            }

            @Override
            public void onRemoved(CircuitBreaker breaker) {
                // The instance left the registry: its series go with its breaker, so they do not grow with churn.
                String key = breaker.name();
                registry.find(TRANSITIONS).tags(breakerTags(key)).counters().forEach(registry::remove);
                int slash = key.indexOf('/');
                if (slash >= 0) { // an instance's breaker, not a service's
                    forgetRequests(key.substring(0, slash), key.substring(slash + 1));
                }
            }
        });
    }

    /**
     * Whether {@code instance} has left the registry: every exchange with an instance took the instance's breaker
     * before it began, and the breaker goes when the registry stops listing the instance. Asked only when an
     * exchange's meters are not cached, so never on the common path.
     */
    private boolean departed(String service, Endpoint instance) {
        SidecarContext ctx = context;
        return instance != null && ctx != null && ctx.breakers().findInstance(service, instance) == null;
    }

    /**
     * Drops an instance's {@code outrigger_requests_total} series, on every edge, and the meters cached for them:
     * an instance that left the registry must not leave series behind for good (instances that come and go on new
     * addresses would grow the scrape without bound). An exchange that ends just after is counted without its instance.
     */
    private void forgetRequests(String service, String instance) {
        java.util.function.Predicate<ExchangeKey> departed =
                k -> k.service().equals(service) && k.instance() != null && k.instance().toString().equals(instance);
        exchanges.keySet().removeIf(departed);
        registry.find("outrigger.requests").tags("service", service, "instance", instance).counters().forEach(registry::remove);
        // Again: meters an event loop cached between the two steps above hold counters no longer registered, and an
        // instance back at the same address would count into them unscraped for good. Dropped, they are made afresh.
        exchanges.keySet().removeIf(departed);
    }

    /** With its description: a counter registered without one is scraped with an empty HELP line. */
    private Counter transitions(Tags tags) {
        return Counter.builder(TRANSITIONS).description("breaker state changes, by the states left and entered")
                .tags(tags).register(registry);
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** The content type of {@link #scrape()}: Prometheus text format 0.0.4. */
    public String contentType() {
        return "text/plain; version=0.0.4; charset=utf-8";
    }

    /**
     * Every series in Prometheus text format, gauges refreshed from the bound context first. Costs
     * CPU in proportion to the number of series: call it off the data-plane event loops.
     */
    public String scrape() {
        refreshGauges();
        return registry.scrape();
    }

    private void refreshGauges() {
        ConnectionTracker tracker = connections;
        if (tracker != null) {
            List<MultiGauge.Row<?>> open = new ArrayList<>();
            tracker.openByListener().forEach((listener, n) -> open.add(MultiGauge.Row.of(Tags.of("listener", listener), n)));
            connectionsOpen.register(open, true);
            // Counters per listener, registered once each: a listener's series stays after it closes, as a counter
            // should. Registered again, Micrometer would keep the first but log a WARN about it.
            for (ConnectionTracker.ListenerCounts l : tracker.limitedListeners()) {
                if (!countedListeners.add(l)) { // a function counter holds its object weakly: kept here so a closed listener's still reads
                    continue;
                }
                FunctionCounter.builder("outrigger.connections.limit.reached", l, ConnectionTracker.ListenerCounts::limitReached)
                        .tags("listener", l.name()).description("times the listener stopped accepting at max_connections")
                        .register(registry);
                FunctionCounter.builder("outrigger.connections.rejected", l, ConnectionTracker.ListenerCounts::rejected)
                        .tags("listener", l.name()).description("connections accepted past max_connections and closed at once")
                        .register(registry);
            }
        }
        SidecarContext ctx = context;
        if (ctx == null) {
            return;
        }
        List<MultiGauge.Row<?>> states = new ArrayList<>();
        List<MultiGauge.Row<?>> failures = new ArrayList<>();
        CircuitBreakers breakers = ctx.breakers();
        for (CircuitBreaker b : breakers.all()) {
            String key = b.name();
            if (!published(ctx, key)) {
                continue;
            }
            // By key, not by this breaker: a gauge row keeps the function it was first registered with, and an instance
            // that left the registry and came back between two scrapes has a new breaker. Read through the one that
            // left, its series stayed as it was (open, say) until that breaker was collected, then NaN.
            Tags tags = breakerTags(key);
            for (CircuitBreaker.State s : CircuitBreaker.State.values()) {
                states.add(MultiGauge.Row.of(tags.and("state", s.wireName()), breakers, bs -> {
                    CircuitBreaker now = bs.find(key);
                    return now != null && now.state() == s ? 1 : 0;
                }));
            }
            failures.add(MultiGauge.Row.of(tags, breakers, bs -> {
                CircuitBreaker now = bs.find(key);
                return now == null ? 0 : now.consecutiveFailures();
            }));
        }
        breakerState.register(states);
        breakerFailures.register(failures);

        List<MultiGauge.Row<?>> healthy = new ArrayList<>();
        for (String service : ctx.registry().services()) {
            List<Endpoint> listed = ctx.registry().endpoints(service);
            for (Endpoint e : listed) {
                healthy.add(MultiGauge.Row.of(Tags.of("service", service, "instance", e.toString()), ctx, c -> healthy(c, service, e)));
            }
            // Listed by the registry but not passing its checks: never routed to, so 0, as /clusters shows them,
            // rather than a series that vanishes (and reads as "no data") while the instance is down.
            for (Endpoint e : ctx.registry().withheld(service).keySet()) {
                if (!listed.contains(e)) {
                    healthy.add(MultiGauge.Row.of(Tags.of("service", service, "instance", e.toString()), ctx, c -> healthy(c, service, e)));
                }
            }
        }
        instanceHealthy.register(healthy);
    }

    /**
     * 1 when the instance is healthy and not withheld by the registry, else 0: one function for both, read at each scrape,
     * because a gauge row keeps the function it was first registered with. An instance that turned from critical to
     * passing (or back) kept the other's answer, 0 (or its health, 1) for as long as its series lived, while /clusters
     * showed the change.
     */
    private static int healthy(SidecarContext ctx, String service, Endpoint e) {
        return !ctx.registry().withheld(service).containsKey(e) && ctx.health().isHealthy(service, e) ? 1 : 0;
    }

    /**
     * Whether a breaker has series: those of the registry's services and of the local service (the inbound app's).
     * A line-JSON {@code call} gets a breaker for any service it names (up to 1024 of them); published, each such name
     * became eight series, so a client could grow every scrape at will (labels grow with the registry, not with
     * traffic). Its reply still tells the caller about that breaker.
     */
    private static boolean published(SidecarContext ctx, String breakerKey) {
        int slash = breakerKey.indexOf('/');
        String service = slash < 0 ? breakerKey : breakerKey.substring(0, slash);
        return ctx.registry().contains(service) || service.equals(ctx.config().service());
    }

    /** Splits a breaker key ({@code service} or {@code service/host:port}) into labels. */
    static Tags breakerTags(String key) {
        int slash = key.indexOf('/');
        String service = slash < 0 ? key : key.substring(0, slash);
        String instance = slash < 0 ? SERVICE_LEVEL : key.substring(slash + 1);
        return Tags.of("breaker", key, "service", service, "instance", instance);
    }

    /** {@code 2xx} for 200..299 and so on; {@code none} for 0 (an outcome without an HTTP status). */
    static String statusClass(int status) {
        return STATUS_CLASSES[statusClassIndex(status)];
    }

    private static int statusClassIndex(int status) {
        if (status >= 100 && status < 600) {
            return status / 100;
        }
        return status == 0 ? 0 : 6;
    }

    @Override
    public void onExchange(String edge, String service, Endpoint instance, int status, int attempts, long durationNanos) {
        ExchangeKey key = new ExchangeKey(edge, service, instance);
        ExchangeMeters m = exchanges.get(key);
        if (m == null) {
            if (departed(service, instance)) {
                // Its series went with its breaker (forgetRequests): an exchange still in flight then must not bring
                // them back for good. It is counted without its instance.
                key = new ExchangeKey(edge, service, null);
            }
            m = exchanges.computeIfAbsent(key, ExchangeMeters::new);
        }
        int sc = statusClassIndex(status);
        m.requests(sc).increment();
        m.latency(sc).record(durationNanos, TimeUnit.NANOSECONDS);
        if (attempts > 0) {
            m.attempts.increment(attempts);
        }
    }

    /**
     * The meters of one edge, service and instance, found with one map lookup per exchange; the
     * per-status-class meters are created on first use. Micrometer returns the same meter for the
     * same name and tags, so two event loops racing to create one end up sharing it.
     */
    private final class ExchangeMeters {
        private final ExchangeKey key;
        private final String instance;
        private final AtomicReferenceArray<Counter> requests = new AtomicReferenceArray<>(STATUS_CLASSES.length);
        private final AtomicReferenceArray<Timer> latencies = new AtomicReferenceArray<>(STATUS_CLASSES.length);
        private final Counter attempts;

        ExchangeMeters(ExchangeKey key) {
            this.key = key;
            this.instance = key.instance() == null ? "none" : key.instance().toString();
            this.attempts = edgeCounter(MicrometerProxyMetrics.this.attempts, "outrigger.attempts", "attempts, retries included",
                    key.edge(), key.service());
            // At zero from the service's first exchange: a series that appears only with the first retry reads as "no data".
            retryCounter(key.edge(), key.service());
            budgetExhaustedCounter(key.edge(), key.service());
        }

        Counter requests(int statusClass) {
            Counter c = requests.get(statusClass);
            if (c == null) {
                c = Counter.builder("outrigger.requests").description("finished exchanges")
                        .tags("edge", key.edge(), "service", key.service(), "instance", instance,
                                "status_class", STATUS_CLASSES[statusClass])
                        .register(registry);
                requests.set(statusClass, c);
            }
            return c;
        }

        Timer latency(int statusClass) {
            Timer t = latencies.get(statusClass);
            if (t == null) {
                t = Timer.builder("outrigger.request.duration")
                        .description("time from request start to the end of the response")
                        .tags("edge", key.edge(), "service", key.service(), "status_class", STATUS_CLASSES[statusClass])
                        .serviceLevelObjectives(LATENCY_BUCKETS)
                        .register(registry);
                latencies.set(statusClass, t);
            }
            return t;
        }
    }

    @Override
    public void onRetry(String edge, String service) {
        retryCounter(edge, service).increment();
    }

    @Override
    public void onRetryBudgetExhausted(String edge, String service) {
        budgetExhaustedCounter(edge, service).increment();
    }

    private Counter retryCounter(String edge, String service) {
        return edgeCounter(retries, "outrigger.retries", "retries made", edge, service);
    }

    private Counter budgetExhaustedCounter(String edge, String service) {
        return edgeCounter(budgetExhausted, "outrigger.retry.budget.exhausted", "retries refused by the retry budget", edge, service);
    }

    private Counter edgeCounter(Map<EdgeKey, Counter> cache, String name, String description, String edge, String service) {
        return cache.computeIfAbsent(new EdgeKey(edge, service), k -> Counter.builder(name).description(description)
                .tags("edge", k.edge(), "service", k.service()).register(registry));
    }
}

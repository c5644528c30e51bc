package io.outrigger.discovery;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.outrigger.config.JsonErrors;
import io.outrigger.listener.Transports;
import io.outrigger.resilience.Backoff;
import io.outrigger.upstream.OutOfDescriptors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Follows a Consul-style registry ({@code http://host:port}) with blocking queries.
 *
 * <pre>
 *   GET /v1/catalog/services?index=N&amp;wait=10s           -> the service names (one watch)
 *   GET /v1/health/service/NAME?index=N&amp;wait=10s           -> its instances and their checks (one watch per service)
 * </pre>
 *
 * Only instances whose checks all pass are routed to ({@link #endpoints}); the others are kept with the
 * checks' status ({@link #withheld}) for {@code /clusters}, so an instance the registry takes out of
 * traffic stays visible with its reason instead of vanishing.
 *
 * Every service in the catalog is watched, plus (up to {@value #MAX_ASKED}) services asked for through
 * {@link #endpoints} that the catalog does not list yet. A watch re-asks when an answer moves the index, at once
 * unless its previous query went out less than {@value #MIN_QUERY_INTERVAL_MILLIS} ms before. When the registry
 * fails, the last known instances stay (stale-on-error), the outage is logged once, and each watch retries
 * with exponential backoff and full jitter, asking without an index first so the state resyncs with one
 * answer (a restarted registry starts its index again from 1).
 * {@link #ready()} completes once the catalog and the first answer for each of its services arrived.
 *
 * <p>All watches run on one event loop of the registry's own single-thread group; reads never block
 * and never fail. Thread-safe.
 */
public final class ConsulRegistry implements Registry {
    private static final Logger log = LoggerFactory.getLogger(ConsulRegistry.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** How many services outside the catalog may be watched because someone asked for them. */
    static final int MAX_ASKED = 256;
    /**
     * The shortest time from one query of a watch to its next: an answer that came sooner waits out the rest. Guards
     * against registries that do not block, whether or not they move the index at every read, and rate-limits a
     * service (or catalog) that changes all the time, as Consul asks of blocking-query clients.
     */
    private static final long MIN_QUERY_INTERVAL_MILLIS = 100;

    /**
     * Watch settings.
     *
     * @param waitMillis     how long the registry may hold a blocking query (default 10000)
     * @param retryBaseMillis first retry delay after a failure (default 100)
     * @param retryMaxMillis  retry delay cap (default 3000)
     */
    public record Settings(long waitMillis, long retryBaseMillis, long retryMaxMillis) {
        public static final Settings DEFAULT = new Settings(10_000, 100, 3_000);
    }

    private final String description;
    private final Settings settings;
    private final EventLoopGroup group;
    private final EventLoop loop;
    private final ConsulHttpClient client;
    private final Backoff backoff;
    private final Map<String, List<Endpoint>> instances = new ConcurrentHashMap<>();
    private final Map<String, Map<Endpoint, String>> withheld = new ConcurrentHashMap<>();
    private final Map<String, Watch> watches = new ConcurrentHashMap<>();
    private final Set<String> asked = ConcurrentHashMap.newKeySet();
    private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
    private final CompletableFuture<Void> ready = new CompletableFuture<>();
    private final Watch catalogWatch;
    private final AtomicBoolean down = new AtomicBoolean();
    /** Watches whose last query failed; written on the loop only. */
    private volatile int failingWatches;
    private boolean outageLogged; // loop only
    private volatile int outageWarnings;
    private volatile Set<String> catalog = Set.of();
    private volatile boolean closed;
    private Set<String> awaitingFirst; // loop only: services whose first answer ready() waits for

    public ConsulRegistry(String host, int port, Settings settings) {
        this.description = "http://" + Endpoint.authority(host, port);
        this.settings = settings;
        Transports transport = Transports.best();
        this.group = transport.newGroup(1, "outrigger-discovery");
        this.loop = group.next();
        this.client = new ConsulHttpClient(host, port, loop, transport, Math.min(settings.waitMillis(), 2_000));
        this.backoff = Backoff.exponentialWithFullJitter(settings.retryBaseMillis(), settings.retryMaxMillis());
        this.catalogWatch = new Watch(null, "/v1/catalog/services");
        loop.execute(catalogWatch::poll);
    }

    @Override
    public Map<Endpoint, String> withheld(String service) {
        return withheld.getOrDefault(service, Map.of());
    }

    @Override
    public List<Endpoint> endpoints(String service) {
        List<Endpoint> list = instances.get(service);
        if (list != null) {
            return list;
        }
        if (!closed && !catalog.contains(service) && !asked.contains(service) && asked.size() < MAX_ASKED && asked.add(service)) {
            try {
                loop.execute(() -> startWatch(service));
            } catch (RejectedExecutionException e) {
                // closing: nothing more to watch, and reads never fail
            }
        }
        return List.of();
    }

    @Override
    public List<Endpoint> listed(String service) {
        return instances.getOrDefault(service, List.of());
    }

    @Override
    public boolean contains(String service) {
        return catalog.contains(service) || !instances.getOrDefault(service, List.of()).isEmpty();
    }

    @Override
    public Set<String> services() {
        return catalog;
    }

    /** Those of the catalog's services and of the services asked for by name that it does not list. */
    @Override
    public Set<Endpoint> allEndpoints() {
        Set<Endpoint> all = new HashSet<>();
        instances.values().forEach(all::addAll);
        withheld.values().forEach(w -> all.addAll(w.keySet()));
        return all;
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
        return description;
    }

    /**
     * Whether some watch's last query failed: its instances are the last known ones. Not whether the last query of any
     * watch failed: while one watch kept failing and the others answered, that flipped with each answer.
     */
    @Override
    public boolean stale() {
        return failingWatches > 0;
    }

    @Override
    public void close() {
        closed = true;
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    private void startWatch(String service) {
        if (!closed && !watches.containsKey(service)) {
            Watch w = new Watch(service, "/v1/health/service/" + URLEncoder.encode(service, StandardCharsets.UTF_8)
                    .replace("+", "%20"));
            watches.put(service, w);
            w.poll();
        }
    }

    private void onCatalog(JsonNode body) {
        if (!body.isObject()) {
            throw new IllegalArgumentException("catalog: " + abbreviate(body) + " (expected: an object of service names)");
        }
        Set<String> names = new LinkedHashSet<>();
        body.fieldNames().forEachRemaining(names::add);
        Set<String> before = catalog;
        catalog = Collections.unmodifiableSet(names);
        if (awaitingFirst == null) {
            awaitingFirst = new HashSet<>(names);
            awaitingFirst.removeIf(s -> instances.containsKey(s));
        }
        boolean changed = !before.equals(names);
        for (String s : names) {
            startWatch(s);
        }
        for (Iterator<Map.Entry<String, Watch>> it = watches.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, Watch> e = it.next();
            if (!names.contains(e.getKey()) && !asked.contains(e.getKey())) {
                e.getValue().stop();
                it.remove();
                if (awaitingFirst != null) {
                    awaitingFirst.remove(e.getKey()); // gone before its first answer: ready() must not wait for it
                }
                List<Endpoint> gone = instances.remove(e.getKey());
                changed |= gone != null;
                withheld.remove(e.getKey());
                if (gone != null && ready.isDone()) {
                    RegistryChangeLog.changed(e.getKey(), gone, null, Map.of());
                }
            }
        }
        checkReady();
        if (changed) {
            fireChange();
        }
    }

    private void onHealth(String service, JsonNode body) {
        if (!body.isArray()) {
            throw new IllegalArgumentException("health of " + service + ": " + abbreviate(body) + " (expected: an array)");
        }
        List<Endpoint> list = new ArrayList<>(body.size());
        Map<Endpoint, String> out = new LinkedHashMap<>();
        for (JsonNode entry : body) {
            Endpoint e = endpointOf(entry);
            if (e == null) {
                continue;
            }
            String failing = failingCheck(entry);
            if (failing == null) {
                list.add(e);
            } else {
                out.putIfAbsent(e, "registry check " + failing);
            }
        }
        // One address registered twice (two service IDs), one registration passing and one not: critical wins, as
        // Consul's own ?passing filter would leave it out. Routed and withheld both, it got traffic while /clusters
        // also showed it held out.
        list.removeIf(out::containsKey);
        Map<Endpoint, String> withheldBefore = withheld.put(service, Collections.unmodifiableMap(out));
        boolean answered = ready.isDone(); // asked first: the answer that completes the first state is part of it, not a change
        List<Endpoint> before = instances.put(service, List.copyOf(list));
        if (awaitingFirst != null) {
            awaitingFirst.remove(service);
            checkReady();
        }
        if (!list.equals(before)) {
            if (answered) {
                RegistryChangeLog.changed(service, before, list, out);
            }
            fireChange();
        } else if (withheldBefore == null ? !out.isEmpty() : !withheldBefore.keySet().equals(out.keySet())) {
            // Only withheld instances came or went (a critical one deregistered): listeners that keep state per
            // listed instance (pooled connections, breakers) must still hear that it left.
            fireChange();
        }
    }

    private static Endpoint endpointOf(JsonNode entry) {
        JsonNode svc = entry.path("Service");
        String address = svc.path("Address").asText("");
        if (address.isEmpty()) {
            address = entry.path("Node").path("Address").asText(""); // Consul: an empty service address means the node's
        }
        int port = svc.path("Port").asInt(0);
        if (address.isEmpty() || port < 1 || port > 65535) {
            log.debug("skipping a malformed registry entry: {}", entry);
            return null;
        }
        try {
            return new Endpoint(address, port);
        } catch (IllegalArgumentException e) { // an address no socket could reach: skip the entry, keep the rest
            log.debug("skipping a registry entry: {}", e.getMessage());
            return null;
        }
    }

    /**
     * The status of the entry's first check that is not passing ({@code critical}, {@code warning}, ...), or null when all
     * pass. Checks of another shape than Consul's array of objects are {@code unreadable}, not passing: iterated as they
     * came, {@code "Checks": {"Status": "critical"}} passed (an object's values are no checks), and so did a string.
     */
    private static String failingCheck(JsonNode entry) {
        JsonNode checks = entry.path("Checks");
        if (checks.isMissingNode() || checks.isNull()) {
            return null; // no checks: nothing fails
        }
        if (!checks.isArray()) {
            return "unreadable (Checks: expected an array)";
        }
        for (JsonNode check : checks) {
            JsonNode s = check.path("Status");
            if (!check.isObject() || !(s.isMissingNode() || s.isNull() || s.isTextual())) {
                return "unreadable (Checks: expected objects with a Status string)";
            }
            String status = s.asText("passing");
            if (!"passing".equals(status)) {
                return status.length() > 32 ? status.substring(0, 32) : status;
            }
        }
        return null;
    }

    private void checkReady() {
        if (awaitingFirst != null && awaitingFirst.isEmpty() && !ready.isDone()) {
            ready.complete(null);
            log.info("registry {}: {} services", description, catalog.size());
        }
    }

    private void fireChange() {
        for (Runnable l : listeners) {
            try {
                l.run();
            } catch (RuntimeException e) {
                log.warn("registry change listener failed", e);
            }
        }
    }

    /**
     * The registry answered. After an outage every other watch waiting out its backoff asks now: each has its
     * own jittered delay (up to {@code retryMaxMillis}), and left alone the catalog and the services would come
     * back one by one over seconds, mixing the registry's new state with the old (a service the restarted
     * registry no longer lists answered "no healthy instance" until the catalog's turn came). A watch asks at once
     * only once until it answers again ({@link Watch#retryNow}). Loop only.
     */
    private void onUp() {
        if (down.compareAndSet(true, false)) {
            if (outageLogged) {
                outageLogged = false;
                log.info("registry {}: {}", description, ready.isDone() ? "answering again, resyncing" : "answering");
            }
            catalogWatch.retryNow();
            for (Watch w : watches.values()) {
                w.retryNow();
            }
        }
    }

    /**
     * A query failed. Logged once per outage, and not again for a watch that keeps failing while the others
     * answer (a service the registry refuses, say, with an ACL): each of their answers ends the "outage", and
     * the failing watch would log a WARN and an INFO for every one of them. Loop only.
     *
     * @param repeat whether the same watch failed its previous query too
     */
    private void onDown(String what, Throwable cause, boolean repeat) {
        down.set(true);
        if (!outageLogged && !repeat) {
            outageLogged = true;
            outageWarnings++;
            log.warn(outageMessage(description, what, describe(cause), ready.isDone(), instances.size()));
        }
    }

    /** How many outages were logged; for tests. */
    int outageWarnings() {
        return outageWarnings;
    }

    /** The one WARN line of an outage; before the first load there is nothing "last known" to keep. */
    static String outageMessage(String registry, String what, String cause, boolean loaded, int services) {
        return "registry " + registry + ": " + what + " failed (" + cause + "); " + (loaded
                ? "keeping the last known instances of " + services + " services, retrying with backoff"
                : "no instances known yet (not ready), retrying with backoff");
    }

    private static String describe(Throwable t) {
        if (OutOfDescriptors.causedBy(t)) {
            return "too many open files (the sidecar's open-files limit)"; // Netty's own words name only the channel class
        }
        String m = t.getMessage();
        return m == null ? t.getClass().getSimpleName() : m;
    }

    /**
     * The JSON of an answer. An empty one fails as {@code empty}: Jackson reads no content as a missing node, not null,
     * and the watch went on to say {@code health of b:  (expected: an array)}, naming nothing.
     */
    static JsonNode readAnswer(String text) {
        JsonNode body;
        try {
            body = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(notJson(e));
        }
        if (body == null || body.isMissingNode()) {
            throw new IllegalArgumentException("empty");
        }
        return body;
    }

    /** One line for an answer that is not JSON ({@link JsonErrors#firstLine}), with where it broke. */
    private static String notJson(JsonProcessingException e) {
        String what = JsonErrors.firstLine(e.getOriginalMessage());
        if (what.length() > 160) {
            what = what.substring(0, 160) + "...";
        }
        JsonLocation at = e.getLocation();
        return "not JSON: " + what + (at == null ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")");
    }

    private static String abbreviate(JsonNode n) {
        String s = n.toString();
        return s.length() > 80 ? s.substring(0, 80) + "..." : s;
    }

    /** One blocking-query loop: the catalog (service null) or one service's passing instances. Loop only. */
    private final class Watch {
        final String service;
        final String path;
        long index;
        int failures;
        boolean stopped;
        /** The pending retry after a failure, null when none is waiting. */
        ScheduledFuture<?> retry;
        /** Whether {@link #retryNow} cut a backoff short since this watch last answered. */
        boolean hurried;
        /** When the last query was sent, on the loop's ticker. */
        long askedNanos;

        Watch(String service, String path) {
            this.service = service;
            this.path = path;
        }

        void poll() {
            if (closed || stopped) {
                return;
            }
            long waitMillis = settings.waitMillis();
            String query = path;
            long timeout = Math.max(2_000, settings.waitMillis() / 4);
            if (index != 0) { // an opaque uint64: above Long.MAX_VALUE its bits are a negative long
                query += (path.indexOf('?') < 0 ? '?' : '&') + "index=" + Long.toUnsignedString(index) + "&wait=" + waitMillis + "ms";
                timeout += waitMillis + waitMillis / 16; // the registry may add up to wait/16 of jitter
            }
            long askedIndex = index;
            askedNanos = loop.ticker().nanoTime();
            client.get(query, timeout).addListener(f -> {
                if (closed || stopped) {
                    return;
                }
                Throwable failure = f.cause();
                if (f.isSuccess()) {
                    ConsulHttpClient.Reply reply = (ConsulHttpClient.Reply) f.getNow();
                    failure = handle(reply);
                    if (failure == null) {
                        if (failures > 0) {
                            failingWatches--;
                        }
                        failures = 0;
                        hurried = false;
                        onUp();
                        long next = reply.index() == 0 ? 1 : reply.index();
                        log.debug("{}: index {} -> {}", path, Long.toUnsignedString(askedIndex), Long.toUnsignedString(next));
                        index = next;
                        long pauseNanos = TimeUnit.MILLISECONDS.toNanos(MIN_QUERY_INTERVAL_MILLIS)
                                - (loop.ticker().nanoTime() - askedNanos);
                        if (pauseNanos > 0) {
                            loop.schedule(this::poll, pauseNanos, TimeUnit.NANOSECONDS);
                        } else {
                            poll();
                        }
                        return;
                    }
                }
                log.debug("{}: failed after index {} ({})", path, Long.toUnsignedString(askedIndex), describe(failure));
                onDown(service == null ? "GET " + path : "watch of " + service, failure, failures > 0);
                index = 0;
                if (failures++ == 0) {
                    failingWatches++;
                }
                retry = loop.schedule(this::retry, backoff.nextDelayMillis(Math.min(failures, 30)), TimeUnit.MILLISECONDS);
            });
        }

        /** Ends the watch: the catalog no longer lists its service. */
        void stop() {
            stopped = true;
            if (failures > 0) {
                failures = 0;
                failingWatches--;
            }
        }

        private void retry() {
            retry = null;
            poll();
        }

        /**
         * Asks at once instead of at the end of a pending backoff; nothing when no retry is pending, or when this watch
         * was hurried before and has not answered since. A watch the registry keeps failing while the others answer (a
         * service refused by an ACL, say) was otherwise hurried by each of their answers, asking as often as they
         * answered, whatever its backoff.
         */
        void retryNow() {
            ScheduledFuture<?> r = retry;
            if (!hurried && r != null && r.cancel(false)) {
                hurried = true;
                retry();
            }
        }

        private Throwable handle(ConsulHttpClient.Reply reply) {
            if (reply.status() != 200) {
                return new IllegalStateException("status " + reply.status());
            }
            try {
                JsonNode body = readAnswer(reply.body());
                if (service == null) {
                    onCatalog(body);
                } else {
                    onHealth(service, body);
                }
                return null;
            } catch (Exception e) {
                return new IllegalStateException("unreadable answer: " + describe(e));
            }
        }
    }
}

package io.outrigger.discovery;

import io.outrigger.time.Ticker;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The sidecar's own view of each instance's health, with the reason for it.
 *
 * <p>Four inputs decide it, strongest first:
 * <ol>
 *   <li><b>draining</b>: the registry no longer lists the instance as passing ({@link #syncWithRegistry()});</li>
 *   <li><b>marks</b>: {@link #mark} (the line-JSON {@code health} message); {@code healthy=true} clears every other
 *       verdict but draining;</li>
 *   <li><b>active checks</b>: {@link #onCheckFailed} {@code unhealthyAfter} times in a row makes an instance
 *       unhealthy, {@link #onCheckPassed} {@code healthyAfter} times in a row makes it healthy again (and ends an
 *       ejection early, as Envoy does);</li>
 *   <li><b>passive outlier detection</b>: {@link #onFailure} {@code ejectAfterFailures} times in a row (no success
 *       between) ejects the instance for {@code ejectionMillis * ejections so far}, capped at
 *       {@code maxEjectionMillis}; the ejection ends by time. At most {@code maxEjectedPercent} of a service's
 *       instances are ejected at once (at least one may be, as in Envoy), and never the last one left in
 *       rotation (the others ejected or failing checks): it is left to its circuit breaker, which fails fast
 *       and probes.</li>
 * </ol>
 * An instance never reported is healthy. Time comes from the injected {@link Ticker}; the wall clock only
 * formats the "until" of an ejection.
 *
 * <p>An ejection, and an instance's active checks starting or ceasing to fail, are logged once each (INFO), after the
 * lock is released; per-exchange reports and marks are not.
 *
 * <p>Thread-safe. Reads ({@link #health}, {@link #isHealthy}) take no lock: each instance publishes an immutable
 * view. Reports lock one service's state for a few field updates and never block otherwise.
 */
public final class HealthTracker {
    private static final Logger log = LoggerFactory.getLogger(HealthTracker.class);

    /** One instance's health and why. */
    public record Health(boolean healthy, String reason) {
        public static final Health UNKNOWN_HEALTHY = new Health(true, "no failures seen");
    }

    /**
     * Health settings.
     *
     * @param ejectAfterFailures consecutive failed exchanges that eject an instance (default 5, the breaker's threshold)
     * @param ejectionMillis     base ejection time, multiplied by the number of ejections (default 30000)
     * @param maxEjectionMillis  longest ejection; also how long an instance must stay un-ejected before its
     *                           ejection count starts again from zero (default 300000)
     * @param maxEjectedPercent  largest share of a service's instances ejected at once (default 50)
     * @param unhealthyAfter     consecutive failed active checks that make an instance unhealthy (default 3)
     * @param healthyAfter       consecutive passed active checks that make it healthy again (default 1)
     */
    public record Settings(int ejectAfterFailures, long ejectionMillis, long maxEjectionMillis, int maxEjectedPercent,
                           int unhealthyAfter, int healthyAfter) {
        public static final Settings DEFAULT = new Settings(5, 30_000, 300_000, 50, 3, 1);

        public Settings {
            if (ejectAfterFailures < 1) {
                throw new IllegalArgumentException("ejectAfterFailures: " + ejectAfterFailures + " (expected: > 0)");
            }
            if (ejectionMillis < 1 || maxEjectionMillis < ejectionMillis) {
                throw new IllegalArgumentException("ejectionMillis: " + ejectionMillis + ", maxEjectionMillis: "
                        + maxEjectionMillis + " (expected: 0 < ejectionMillis <= maxEjectionMillis)");
            }
            if (maxEjectedPercent < 0 || maxEjectedPercent > 100) {
                throw new IllegalArgumentException("maxEjectedPercent: " + maxEjectedPercent + " (expected: 0..100)");
            }
            if (unhealthyAfter < 1 || healthyAfter < 1) {
                throw new IllegalArgumentException("unhealthyAfter: " + unhealthyAfter + ", healthyAfter: " + healthyAfter
                        + " (expected: > 0)");
            }
        }
    }

    /** How long a draining instance's state is kept after the registry dropped it. */
    private static final long DRAINING_KEEP_NANOS = TimeUnit.MINUTES.toNanos(1);

    private final Registry registry;
    private final Ticker ticker;
    private final Clock clock;
    private final Settings settings;
    private final Map<String, ServiceHealth> byService = new ConcurrentHashMap<>();
    /**
     * Instances, over every service, with at least one failure not yet reset by a success: while none has, a success
     * has nothing to reset and is not looked up at all (two map lookups on every proxied exchange otherwise).
     */
    private final AtomicInteger failing = new AtomicInteger();
    private final Set<String> routed = ConcurrentHashMap.newKeySet();

    /** A tracker with default settings and no registry (a service's size is the number of instances reported). */
    public HealthTracker() {
        this(null, Ticker.system(), Clock.systemUTC(), Settings.DEFAULT);
    }

    /**
     * @param registry the registry whose instance counts bound ejections and whose changes drive draining; may be null
     * @param ticker   monotonic time for ejections
     * @param clock    wall clock, only to print when an ejection ends
     */
    public HealthTracker(Registry registry, Ticker ticker, Clock clock, Settings settings) {
        this.registry = registry;
        this.ticker = ticker;
        this.clock = clock;
        this.settings = settings;
    }

    public Settings settings() {
        return settings;
    }

    public Health health(String service, Endpoint endpoint) {
        ServiceHealth s = byService.get(service);
        InstanceState st = s == null ? null : s.instances.get(endpoint);
        if (st == null) {
            return Health.UNKNOWN_HEALTHY;
        }
        View v = st.view;
        if (v.blocked != null) {
            return v.blocked;
        }
        if (v.ejected != null && ticker.nanos() - v.ejectedUntil < 0) {
            return v.ejected;
        }
        return v.ok;
    }

    public boolean isHealthy(String service, Endpoint endpoint) {
        return health(service, endpoint).healthy();
    }

    /** True when this instance has state here: something was reported about it. */
    public boolean isTracked(String service, Endpoint endpoint) {
        ServiceHealth s = byService.get(service);
        return s != null && s.instances.containsKey(endpoint);
    }

    /** The instances with state here, over every service (a moment's count, for bounding what callers may add). */
    public int trackedCount() {
        int n = 0;
        for (ServiceHealth s : byService.values()) {
            n += s.instances.size();
        }
        return n;
    }

    /**
     * Marks an instance (the line-JSON {@code health} message): unhealthy until marked healthy again; a healthy
     * mark also ends an ejection and failed checks.
     */
    public void mark(String service, Endpoint endpoint, boolean healthy, String reason) {
        service(service).update(endpoint, st -> {
            if (healthy) {
                st.manualReason = null;
                st.failures = 0;
                st.ejectedUntil = 0;
                st.ejected = false;
                st.checkFailing = false;
                st.checkFailures = 0;
                st.note = reason;
            } else {
                st.manualReason = reason;
            }
        });
    }

    /**
     * Reports a successful exchange with an instance in real traffic (input to passive
     * outlier detection). Called on event loops; never blocks.
     */
    public void onSuccess(String service, Endpoint endpoint) {
        if (failing.get() == 0) {
            return; // the common case: no instance anywhere has a failure to reset
        }
        ServiceHealth s = byService.get(service);
        InstanceState st = s == null ? null : s.instances.get(endpoint);
        if (st == null || st.failures == 0) {
            return; // the common case: nothing to reset, no lock taken
        }
        s.update(endpoint, i -> {
            i.failures = 0;
            i.note = "recovered after failures";
        });
    }

    /**
     * Reports a failed exchange with an instance in real traffic (connect error, reset,
     * timeout, 5xx): input to passive outlier detection. Called on event loops; never blocks.
     */
    public void onFailure(String service, Endpoint endpoint, String cause) {
        ServiceHealth s = service(service);
        logChange(service, endpoint, s.update(endpoint, st -> {
            long now = ticker.nanos();
            if (st.ejected && now - st.ejectedUntil < 0) {
                return; // already out; late reports from calls in flight do not extend the ejection
            }
            if (st.ejected) {
                st.ejected = false;
                st.lastEjectionEnd = st.ejectedUntil;
            }
            st.failures++;
            st.lastCause = cause;
            if (st.failures < settings.ejectAfterFailures()) {
                st.note = st.failures + " consecutive failure" + (st.failures == 1 ? "" : "s") + " (last: " + cause + ")";
                return;
            }
            int total = s.size(registry, service);
            // Never the last instance: ejecting it would turn a breaker's fail-fast and probing into
            // "no healthy instance" for the whole ejection time.
            int byPercent = Math.max(1, total * settings.maxEjectedPercent() / 100);
            int allowed = Math.min(total - 1, byPercent);
            int ejectedNow = s.ejectedCount(now);
            // The others already out of rotation, by ejection or by failing active checks: ejecting this one as
            // well would leave the service no instance at all, which the cap on ejections alone does not see.
            int othersOut = s.outOfRotationCount(st, now);
            if (ejectedNow >= allowed || othersOut >= total - 1) {
                // Name the rule that held it back: "0 of 1 already ejected (max 50%)" explained nothing.
                st.note = st.failures + " consecutive failures, not ejected: " + (ejectedNow >= byPercent
                        ? ejectedNow + " of " + total + " instances already ejected (max " + settings.maxEjectedPercent() + "%)"
                        : total == 1 ? "the only instance, left to its circuit breaker"
                        : "never the last instance (" + othersOut + " of " + total
                                + " already out: ejected or failing checks), left to its circuit breaker");
                return;
            }
            if (st.ejections > 0 && now - st.lastEjectionEnd >= TimeUnit.MILLISECONDS.toNanos(settings.maxEjectionMillis())) {
                st.ejections = 0; // well behaved for long enough: start the penalty again from the base
            }
            st.ejections++;
            long millis = Math.min(settings.maxEjectionMillis(), settings.ejectionMillis() * st.ejections);
            st.ejected = true;
            st.ejectedUntil = now + TimeUnit.MILLISECONDS.toNanos(millis);
            st.ejectedReason = "ejected: " + st.failures + " consecutive failures (last: " + cause + "), until "
                    + Instant.now(clock).plusMillis(millis).truncatedTo(ChronoUnit.SECONDS);
            st.change = st.ejectedReason + " (" + millis + " ms)";
            st.note = "back from ejection " + st.ejections + " (ejected " + millis + " ms)";
            st.failures = 0;
            st.checkPasses = 0; // only passes after the ejection count towards ending it early (healthy_after)
        }));
    }

    /** An active check of the instance passed. */
    public void onCheckPassed(String service, Endpoint endpoint) {
        logChange(service, endpoint, service(service).update(endpoint, st -> {
            st.checkFailures = 0;
            st.checkPasses++;
            if (st.checkFailing && st.checkPasses >= settings.healthyAfter()) {
                st.checkFailing = false;
                st.note = InstanceState.CHECKS_NOTE; // told as the checks go on, not frozen at the count of this moment
                st.change = "passing checks: " + st.checkPasses + " consecutive";
            }
            if (st.ejected && !st.checkFailing && st.checkPasses >= settings.healthyAfter() && ticker.nanos() - st.ejectedUntil < 0) {
                st.ejected = false; // a passing active check ends a passive ejection early
                st.lastEjectionEnd = ticker.nanos();
                st.failures = 0;
                st.note = "passing checks ended an ejection";
                st.change = st.note;
            }
        }));
    }

    /** An active check of the instance failed; {@code cause} says how (status 503, connection refused, timeout). */
    public void onCheckFailed(String service, Endpoint endpoint, String cause) {
        logChange(service, endpoint, service(service).update(endpoint, st -> {
            st.checkPasses = 0;
            st.checkFailures++;
            st.checkCause = cause;
            if (st.checkFailures >= settings.unhealthyAfter() && !st.checkFailing) {
                st.checkFailing = true;
                st.change = "failing checks: " + st.checkFailures + " consecutive (" + cause + ")";
            }
        }));
    }

    /** One line for a change of an instance's health that {@code update} reported (null: none). */
    private static void logChange(String service, Endpoint endpoint, String change) {
        if (change != null) {
            log.info("health {}/{}: {}", service, endpoint, change);
        }
    }

    /**
     * Marks the instances the registry no longer lists as draining, and clears draining for those it lists
     * again. Called after every registry change; forgets instances that have been draining for a minute.
     */
    public void syncWithRegistry() {
        if (registry == null) {
            return;
        }
        long now = ticker.nanos();
        for (Map.Entry<String, ServiceHealth> e : byService.entrySet()) {
            Set<Endpoint> listed = new HashSet<>(registry.listed(e.getKey()));
            e.getValue().sync(listed, now);
        }
    }

    /** Notes that traffic was routed to a service: active checks cover these services. */
    public void noteRouted(String service) {
        if (!routed.contains(service)) {
            routed.add(service);
        }
    }

    /** The services traffic was routed to so far. */
    public Set<String> routedServices() {
        return Set.copyOf(routed);
    }

    private ServiceHealth service(String service) {
        ServiceHealth s = byService.get(service);
        return s != null ? s : byService.computeIfAbsent(service, k -> new ServiceHealth(failing));
    }

    /** What readers see of one instance; immutable, rebuilt after each change. */
    private record View(Health blocked, long ejectedUntil, Health ejected, Health ok) {}

    /** Mutable state of one instance, guarded by its {@link ServiceHealth}'s lock; {@link #view} is published. */
    private static final class InstanceState {
        /**
         * The {@link #note} (compared by identity) of an instance whose active checks stopped failing: its reason then
         * says how the checks go now ("passing checks: 240 consecutive"), until another note replaces it.
         */
        static final String CHECKS_NOTE = new String("checks");

        volatile View view = new View(null, 0, null, Health.UNKNOWN_HEALTHY);
        String drainingReason;
        long drainingSince;
        String manualReason;
        volatile int failures;
        String lastCause;
        int ejections;
        boolean ejected;
        long ejectedUntil;
        long lastEjectionEnd;
        String ejectedReason;
        int checkFailures;
        int checkPasses;
        boolean checkFailing;
        String checkCause;
        String note;
        /** A change worth a log line, set by an update and taken by {@link ServiceHealth#update}. */
        String change;

        void publish() {
            Health blocked = null;
            if (drainingReason != null) {
                blocked = new Health(false, drainingReason);
            } else if (manualReason != null) {
                blocked = new Health(false, manualReason);
            } else if (checkFailing) {
                blocked = new Health(false, "failing checks: " + checkFailures + " consecutive (" + checkCause + ")");
            }
            view = new View(blocked, ejectedUntil, ejected ? new Health(false, ejectedReason) : null,
                    note == null ? Health.UNKNOWN_HEALTHY : new Health(true, note == CHECKS_NOTE ? checksNote() : note));
        }

        private String checksNote() {
            return checkFailures == 0 ? "passing checks: " + checkPasses + " consecutive"
                    : "failed checks: " + checkFailures + " consecutive (" + checkCause + "), not yet unhealthy";
        }
    }

    /** The instances of one service; its monitor guards every instance's mutable state. */
    private static final class ServiceHealth {
        final Map<Endpoint, InstanceState> instances = new ConcurrentHashMap<>();
        /** The tracker's count of instances with a failure not reset: kept in step here, where failures change. */
        private final AtomicInteger failing;

        ServiceHealth(AtomicInteger failing) {
            this.failing = failing;
        }

        /** Applies {@code change}; returns the log line it asked for, if any, to be written once the lock is released. */
        synchronized String update(Endpoint endpoint, java.util.function.Consumer<InstanceState> change) {
            InstanceState st = instances.computeIfAbsent(endpoint, e -> new InstanceState());
            boolean wasFailing = st.failures > 0;
            change.accept(st);
            if (wasFailing != st.failures > 0) {
                failing.addAndGet(wasFailing ? -1 : 1);
            }
            st.publish();
            String logged = st.change;
            st.change = null;
            return logged;
        }

        /** Guarded by this. Instances the registry no longer lists do not count: the cap is a share of those it lists. */
        int ejectedCount(long now) {
            int n = 0;
            for (InstanceState st : instances.values()) {
                if (st.ejected && now - st.ejectedUntil < 0 && st.drainingReason == null) {
                    n++;
                }
            }
            return n;
        }

        /**
         * Guarded by this. The instances other than {@code self}, still listed by the registry, that take no traffic:
         * ejected, failing active checks or taken out by hand.
         */
        int outOfRotationCount(InstanceState self, long now) {
            int n = 0;
            for (InstanceState st : instances.values()) {
                if (st != self && st.drainingReason == null
                        && (st.ejected && now - st.ejectedUntil < 0 || st.checkFailing || st.manualReason != null)) {
                    n++;
                }
            }
            return n;
        }

        /** Guarded by this. */
        int size(Registry registry, String service) {
            List<Endpoint> listed = registry == null ? List.of() : registry.listed(service);
            return Math.max(listed.size(), registry == null ? instances.size() : 1);
        }

        synchronized void sync(Set<Endpoint> listed, long now) {
            for (Iterator<Map.Entry<Endpoint, InstanceState>> it = instances.entrySet().iterator(); it.hasNext(); ) {
                Map.Entry<Endpoint, InstanceState> e = it.next();
                InstanceState st = e.getValue();
                if (listed.contains(e.getKey())) {
                    if (st.drainingReason != null) {
                        st.drainingReason = null;
                        st.note = "listed by the registry again";
                        st.publish();
                    }
                } else if (st.drainingReason == null) {
                    st.drainingReason = "draining: no longer passing in the registry";
                    st.drainingSince = now;
                    st.publish();
                } else if (now - st.drainingSince >= DRAINING_KEEP_NANOS) {
                    it.remove();
                    if (st.failures > 0) {
                        failing.decrementAndGet();
                    }
                }
            }
        }
    }
}

package io.outrigger.it.scenario;

import io.outrigger.it.harness.Http;
import io.outrigger.it.harness.Poller;
import io.outrigger.it.harness.SidecarYaml;
import io.outrigger.it.harness.Topology;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Scenario 2: service-b fails every request; sidecar-a retries, then its breaker opens and
 * answers at once with {@code 503} and {@code x-outrigger-breaker: open}; service-b recovers and
 * the breaker goes through half-open back to closed.
 *
 * <p>The driver plays service-a's app: it calls {@code http://service-b/...} through sidecar-a's
 * outbound listener, one request every 20 ms while it waits for a change.
 */
public final class BreakerScenario {
    /** Longest wait for the breaker to open, and for the recovery (breaker open_ms is 1 s in the demo). */
    public static final Duration DEADLINE = Duration.ofSeconds(20);
    private static final Duration PACE = Duration.ofMillis(20);
    /** The fast fails are sent within half of the breaker's open_ms from the first open answer, before it may probe. */
    public static final Duration FAST_FAIL_WINDOW = Duration.ofMillis(SidecarYaml.OPEN_MS / 2);
    private static final String SERVICE = "service-b";

    private BreakerScenario() {
    }

    /**
     * @param statusesWhileFailing   statuses the caller saw between "fail" and the breaker opening ({@code 0}: no response)
     * @param openedAfter            from "fail" to the first breaker-open 503
     * @param fastFails              the answers right after it opened (up to five, sent within {@link #FAST_FAIL_WINDOW})
     * @param attemptsDuringFastFails the attempts sidecar-a counted to service-b while it gave them ({@code 0}: none reached it)
     * @param clustersWhenOpen       service-b's service breaker at that moment, as {@code /clusters} shows it
     * @param recoveredAfter         from "recover" to five 200s in a row
     * @param clustersAfterRecovery  service-b's service breaker after recovery
     * @param transitions            the sidecar's breaker transition counters for service-b
     * @param retries                the sidecar's retry counter for service-b, at the end
     * @param watched                breaker changes seen by polling {@code /clusters}
     */
    public record Result(Map<Integer, Integer> statusesWhileFailing, Duration openedAfter, List<Traffic.Outcome> fastFails,
                         double attemptsDuringFastFails,
                         Optional<SidecarAdmin.Breaker> clustersWhenOpen, Duration recoveredAfter,
                         Optional<SidecarAdmin.Breaker> clustersAfterRecovery, Map<String, Integer> transitions,
                         double retries, List<String> watched) {}

    public static Result run(Topology topology, Timeline timeline, Traffic traffic) {
        timeline.section("2. service-b fails: retries, the breaker opens, fails fast, recovers");
        Http asA = topology.asServiceA();
        URI work = URI.create("http://" + SERVICE + "/work");
        SidecarAdmin admin = new SidecarAdmin(topology.sidecarAAdmin());
        try (BreakerWatcher watcher = new BreakerWatcher(admin, SERVICE, timeline)) {
            for (int i = 0; i < 5; i++) {
                traffic.call(SERVICE, () -> asA.get(work));
            }
            timeline.event("5 warm-up calls service-a -> service-b done");

            setFailRate(topology, 1.0);
            timeline.event("POST /admin/fail?rate=1.0&status=503 on every service-b instance: each request now answers 503");
            long failAt = System.nanoTime();
            Map<Integer, Integer> statuses = new TreeMap<>();
            Traffic.Outcome open = Poller.await("a 503 with x-outrigger-breaker: open", DEADLINE, PACE, () -> {
                Traffic.Outcome o = traffic.call(SERVICE, () -> asA.get(work));
                if (isBreakerOpen(o)) {
                    return Optional.of(o);
                }
                if (statuses.merge(o.status(), 1, Integer::sum) == 1) {
                    timeline.event("service-a -> service-b: %s in %d ms", o.describe(), o.latency().toMillis());
                }
                return Optional.empty();
            });
            Duration openedAfter = Duration.ofNanos(System.nanoTime() - failAt);
            if (statuses.keySet().stream().allMatch(s -> s == 500)) {
                timeline.event("(a 500 is not retried: only connect errors, resets, and 502/503/504 or timeouts of idempotent"
                        + " requests are; every 500 counts against the breaker)");
            }
            timeline.event("breaker open after %d ms and %d failed calls: %s in %d ms", openedAfter.toMillis(),
                    statuses.values().stream().mapToInt(Integer::intValue).sum(), open.describe(), open.latency().toMillis());
            long openSeenAt = System.nanoTime();
            // An open breaker's answer reaches no instance: sidecar-a counts no attempt to service-b for it. That is
            // what "fast" means here; a wall-clock bound alone fails on a busy machine, where one call can take longer
            // than a whole round trip to a failing service-b on an idle one.
            double attemptsBefore = admin.counter("outrigger_attempts_total", SERVICE);
            List<Traffic.Outcome> fastFails = new ArrayList<>();
            // Five, but only within half of open_ms of the first open answer: a later call may be the half-open probe.
            for (int i = 0; i < 5 && (i == 0 || System.nanoTime() - openSeenAt < FAST_FAIL_WINDOW.toNanos()); i++) {
                fastFails.add(traffic.call(SERVICE, () -> asA.get(work)));
            }
            double attemptsDuringFastFails = admin.counter("outrigger_attempts_total", SERVICE) - attemptsBefore;
            Optional<SidecarAdmin.Breaker> whenOpen = read(admin);
            timeline.event("next 5 calls: %s", describe(fastFails));
            timeline.event("/clusters: service-b breaker %s", whenOpen.map(b -> b.state() + " (" + b.reason() + ")").orElse("not listed"));

            setFailRate(topology, 0.0);
            timeline.event("POST /admin/fail?rate=0 on every service-b instance: service-b is healthy again");
            long recoverAt = System.nanoTime();
            AtomicInteger okInARow = new AtomicInteger();
            Poller.awaitTrue("five 200s in a row from service-b", DEADLINE, PACE, () -> {
                Traffic.Outcome o = traffic.call(SERVICE, () -> asA.get(work));
                return (o.ok() ? okInARow.incrementAndGet() : zero(okInARow)) >= 5;
            });
            Duration recoveredAfter = Duration.ofNanos(System.nanoTime() - recoverAt);
            timeline.event("recovered: five 200s in a row %d ms after service-b recovered", recoveredAfter.toMillis());
            Optional<SidecarAdmin.Breaker> after = read(admin);
            timeline.event("/clusters: service-b breaker %s", after.map(b -> b.state() + " (" + b.reason() + ")").orElse("not listed"));

            Map<String, Integer> transitions = admin.breakerTransitions(SERVICE);
            double retries = admin.counter("outrigger_retries_total", SERVICE);
            timeline.event("sidecar-a /metrics: %d retries to service-b; breaker transitions %s", (long) retries, transitions);
            return new Result(statuses, openedAfter, fastFails, attemptsDuringFastFails, whenOpen, recoveredAfter, after, transitions,
                    retries, watcher.changes());
        } catch (IOException e) {
            throw new UncheckedIOException("reading sidecar-a's admin listener", e);
        }
    }

    /** A fast fail by an open breaker, as the contract spells it. */
    public static boolean isBreakerOpen(Traffic.Outcome o) {
        return o.status() == 503 && o.header("x-outrigger-breaker").map("open"::equalsIgnoreCase).orElse(false);
    }

    private static int zero(AtomicInteger counter) {
        counter.set(0);
        return 0;
    }

    private static Optional<SidecarAdmin.Breaker> read(SidecarAdmin admin) {
        try {
            return admin.serviceBreaker(SERVICE);
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static String describe(List<Traffic.Outcome> outcomes) {
        StringBuilder s = new StringBuilder();
        for (Traffic.Outcome o : outcomes) {
            s.append(s.length() == 0 ? "" : ", ").append(o.status()).append(" in ").append(o.latency().toMillis()).append(" ms");
        }
        return s.toString();
    }

    /**
     * Sets every service-b instance's failure rate (fake service: {@code POST /admin/fail?rate=R&status=503});
     * a 503 to a GET is retried by sidecar-a, so the timeline shows retries before the breaker opens.
     */
    static void setFailRate(Topology topology, double rate) {
        Http http = Http.direct();
        for (URI instance : topology.serviceBControl()) {
            try {
                Http.Response r = http.post(instance.resolve("/admin/fail?rate=" + rate + "&status=503"));
                if (!r.ok()) {
                    throw new IllegalStateException("POST " + instance + "/admin/fail?rate=" + rate + ": HTTP " + r.status());
                }
            } catch (IOException e) {
                throw new UncheckedIOException("POST " + instance + "/admin/fail?rate=" + rate, e);
            }
        }
    }
}

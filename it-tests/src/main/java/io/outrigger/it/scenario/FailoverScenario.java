package io.outrigger.it.scenario;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.outrigger.it.harness.Http;
import io.outrigger.it.harness.Poller;
import io.outrigger.it.harness.Topology;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Scenario 3: one service-b instance is killed (SIGKILL, no deregistration) and sidecar-a
 * routes around it: retries go to the other instance and its breaker for the dead one opens.
 */
public final class FailoverScenario {
    /** Longest wait for twenty answers in a row from the surviving instance. */
    public static final Duration DEADLINE = Duration.ofSeconds(20);
    private static final Duration PACE = Duration.ofMillis(20);
    private static final String SERVICE = "service-b";
    private static final int IN_A_ROW = 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    private FailoverScenario() {
    }

    /**
     * @param before        answers per instance name before the kill (20 calls)
     * @param killed        the name the killed instance answered with
     * @param callerErrors  non-2xx answers (or no answer) the caller saw after the kill
     * @param after         answers per instance name in the final twenty-in-a-row
     * @param settledAfter  from the kill to the end of those twenty
     * @param retriesAfterKill retries sidecar-a counted for service-b since the kill
     * @param instanceBreakers service-b's instance breakers at the end, by address
     */
    public record Result(Map<String, Integer> before, String killed, int callerErrors, Map<String, Integer> after,
                         Duration settledAfter, double retriesAfterKill, Map<String, SidecarAdmin.Breaker> instanceBreakers) {}

    public static Result run(Topology topology, Timeline timeline, Traffic traffic) {
        timeline.section("3. One service-b instance is killed and routed around");
        Http asA = topology.asServiceA();
        URI work = URI.create("http://" + SERVICE + "/work");
        Map<String, Integer> before = new TreeMap<>();
        for (int i = 0; i < 20; i++) {
            Traffic.Outcome o = traffic.call(SERVICE, () -> asA.get(work));
            before.merge(o.ok() ? instance(o.body()) : "error " + o.describe(), 1, Integer::sum);
        }
        timeline.event("20 calls service-a -> service-b spread over the instances: %s", before);

        SidecarAdmin admin = new SidecarAdmin(topology.sidecarAAdmin());
        double retriesBefore = retries(admin);
        String killed = whoIs(topology.serviceBControl().get(0));
        topology.killServiceB(0);
        long killedAt = System.nanoTime();
        timeline.event("killed service-b instance %s (SIGKILL: no deregistration, its sidecar stays up)", killed);

        AtomicInteger errors = new AtomicInteger();
        Deque<String> lastAnswers = new ArrayDeque<>();
        Poller.awaitTrue(IN_A_ROW + " answers in a row after the kill", DEADLINE, PACE, () -> {
            Traffic.Outcome o = traffic.call(SERVICE, () -> asA.get(work));
            if (!o.ok()) {
                errors.incrementAndGet();
                lastAnswers.clear();
                timeline.event("service-a -> service-b: %s", o.describe());
                return false;
            }
            lastAnswers.addLast(instance(o.body()));
            return lastAnswers.size() >= IN_A_ROW;
        });
        Duration settled = Duration.ofNanos(System.nanoTime() - killedAt);
        Map<String, Integer> after = new TreeMap<>();
        lastAnswers.forEach(i -> after.merge(i, 1, Integer::sum));
        timeline.event("%d answers in a row, %d ms after the kill, by instance: %s; errors the caller saw: %d",
                IN_A_ROW, settled.toMillis(), after, errors.get());
        double retriesAfterKill = retries(admin) - retriesBefore;
        timeline.event("sidecar-a /metrics: %d retries to service-b since the kill", (long) retriesAfterKill);
        Map<String, SidecarAdmin.Breaker> breakers;
        try {
            breakers = admin.instanceBreakers(SERVICE);
        } catch (IOException e) {
            throw new UncheckedIOException("reading sidecar-a's /clusters", e);
        }
        breakers.forEach((address, b) -> timeline.event("/clusters: service-b @ %s breaker %s (%s)", address, b.state(), b.reason()));
        return new Result(before, killed, errors.get(), after, settled, retriesAfterKill, breakers);
    }

    private static double retries(SidecarAdmin admin) {
        try {
            return admin.counter("outrigger_retries_total", SERVICE);
        } catch (IOException e) {
            throw new UncheckedIOException("reading sidecar-a's /metrics", e);
        }
    }

    /** The {@code instance} field of a fake service's answer. */
    static String instance(String body) {
        try {
            return JSON.readTree(body).path("instance").asText("?");
        } catch (IOException e) {
            return "? (not JSON)";
        }
    }

    private static String whoIs(URI instance) {
        try {
            Http.Response r = Http.direct().get(instance.resolve("/whoami"));
            return instance(r.body());
        } catch (IOException e) {
            throw new UncheckedIOException("GET " + instance + "/whoami", e);
        }
    }
}

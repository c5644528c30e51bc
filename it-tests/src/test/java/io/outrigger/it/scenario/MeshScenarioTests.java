package io.outrigger.it.scenario;

import io.outrigger.it.harness.SidecarYaml;
import io.outrigger.it.harness.Topology;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The demo's three scenarios as assertions, against any {@link Topology}. One topology serves
 * the class; the instance kill runs last because it leaves service-b with one instance.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
abstract class MeshScenarioTests {
    /**
     * A fast fail never reaches service-b (sidecar-a counts no attempt for it), and it comes back before the breaker's
     * open_ms is up. A bound near an upstream round trip (250 ms) failed on a busy 2-core machine: one of five fast fails
     * took 319 ms there, while the failing round trip to service-b just before took 208 ms.
     */
    private static final Duration FAST_FAIL = Duration.ofMillis(SidecarYaml.OPEN_MS);

    private Topology topology;
    private final Timeline timeline = new Timeline(System.err);
    private final Traffic traffic = new Traffic();

    /** Starts the mesh; called once before the scenarios. */
    protected abstract Topology startTopology();

    @BeforeAll
    void start() {
        topology = startTopology();
        topology.describe().forEach(timeline::print);
    }

    @AfterAll
    void stop() {
        if (topology != null) {
            topology.close();
        }
    }

    @Test
    @Order(1)
    void oneTraceIdIsSeenAtEveryHop() {
        TraceScenario.Result r = TraceScenario.run(topology, timeline, traffic);

        assertEquals(200, r.status(), "service-a's answer: " + r.body());
        assertTrue(r.hops().stream().anyMatch(h -> h.who().startsWith("service-a app")), "service-a's view missing: " + r.body());
        TraceScenario.Hop b = r.hops().stream().filter(h -> h.who().startsWith("service-b app")).findFirst()
                .orElseThrow(() -> new AssertionError("service-b's view missing: " + r.body()));
        for (TraceScenario.Hop hop : r.hops()) {
            assertEquals(r.traceId(), hop.traceId(), hop.who() + " saw traceparent " + hop.traceparent());
            assertEquals(r.requestId(), hop.requestId(), hop.who() + " saw another x-request-id");
        }
        assertNotEquals(r.spanId(), b.spanId(), "the sidecars continue the trace with spans of their own");
        assertTrue(r.responseTraceparent().contains(r.traceId()), "answer's traceparent: " + r.responseTraceparent());
        assertEquals(r.requestId(), r.responseRequestId(), "answer's x-request-id");
    }

    @Test
    @Order(2)
    void breakerOpensFailsFastAndRecoversThroughHalfOpen() {
        BreakerScenario.Result r = BreakerScenario.run(topology, timeline, traffic);

        assertFalse(r.statusesWhileFailing().isEmpty(), "some calls failed before the breaker opened");
        assertTrue(r.statusesWhileFailing().keySet().stream().allMatch(s -> s >= 500),
                "while service-b fails, callers see 5xx: " + r.statusesWhileFailing());
        for (Traffic.Outcome o : r.fastFails()) {
            assertTrue(BreakerScenario.isBreakerOpen(o), "expected 503 with x-outrigger-breaker: open, got " + o.describe());
            assertTrue(o.latency().compareTo(FAST_FAIL) < 0, "a fast fail took " + o.latency().toMillis() + " ms");
        }
        assertEquals(0.0, r.attemptsDuringFastFails(), "attempts sidecar-a made to service-b during the " + r.fastFails().size() + " fast fails");
        assertEquals("open", r.clustersWhenOpen().map(SidecarAdmin.Breaker::state).orElse("(not listed)"),
                "/clusters while failing fast");
        assertEquals("closed", r.clustersAfterRecovery().map(SidecarAdmin.Breaker::state).orElse("(not listed)"),
                "/clusters after recovery");
        Map<String, Integer> t = r.transitions();
        assertTrue(t.keySet().stream().anyMatch(k -> k.endsWith("closed->open")), "no closed->open transition counted: " + t);
        assertTrue(t.keySet().stream().anyMatch(k -> k.endsWith("open->half_open")), "no open->half_open transition counted: " + t);
        assertTrue(t.keySet().stream().anyMatch(k -> k.endsWith("half_open->closed")), "no half_open->closed transition counted: " + t);
    }

    @Test
    @Order(3)
    void aKilledInstanceIsRoutedAround() {
        FailoverScenario.Result r = FailoverScenario.run(topology, timeline, traffic);

        assertEquals(2, r.before().size(), "before the kill both instances answer: " + r.before());
        assertTrue(r.before().containsKey(r.killed()), "the killed instance " + r.killed() + " answered before: " + r.before());
        assertEquals(Map.of(r.after().keySet().iterator().next(), 20), r.after(), "twenty answers from one instance: " + r.after());
        assertFalse(r.after().containsKey(r.killed()), "the killed instance still answers: " + r.after());
        assertTrue(r.retriesAfterKill() > 0, "calls that met the dead instance were retried on the other one");
    }
}

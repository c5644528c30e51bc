package io.outrigger.discovery;

import io.outrigger.resilience.CircuitBreakerConfig;
import io.outrigger.resilience.CircuitBreakers;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HealthTrackerTest {
    private static final Endpoint A = new Endpoint("127.0.0.1", 9001);
    private static final Endpoint B = new Endpoint("127.0.0.1", 9002);
    private static final Endpoint C = new Endpoint("127.0.0.1", 9003);
    private static final Endpoint D = new Endpoint("127.0.0.1", 9004);

    private final AtomicLong nanos = new AtomicLong(1_000);
    private final Clock clock = Clock.fixed(Instant.parse("2026-11-22T07:00:00Z"), ZoneOffset.UTC);
    private final Map<String, List<Endpoint>> services = new java.util.concurrent.ConcurrentHashMap<>();
    private final Registry registry = new Registry() {
        @Override
        public List<Endpoint> endpoints(String service) {
            return services.getOrDefault(service, List.of());
        }

        @Override
        public boolean contains(String service) {
            return services.containsKey(service);
        }

        @Override
        public java.util.Set<String> services() {
            return services.keySet();
        }

        @Override
        public String describe() {
            return "test";
        }
    };
    private final HealthTracker health;

    HealthTrackerTest() {
        services.put("service-b", List.of(A, B, C));
        health = new HealthTracker(registry, nanos::get, clock, new HealthTracker.Settings(5, 1_000, 2_500, 50, 3, 2));
    }

    private void advanceMillis(long ms) {
        nanos.addAndGet(TimeUnit.MILLISECONDS.toNanos(ms));
    }

    private void fail(Endpoint e, int times) {
        for (int i = 0; i < times; i++) {
            health.onFailure("service-b", e, "status 503");
        }
    }

    @Test
    void consecutiveFailuresEjectForAGrowingCappedTime() {
        fail(A, 4);
        assertTrue(health.isHealthy("service-b", A));
        assertEquals("4 consecutive failures (last: status 503)", health.health("service-b", A).reason());
        fail(A, 1);
        assertEquals(new HealthTracker.Health(false, "ejected: 5 consecutive failures (last: status 503), until 2026-11-22T07:00:01Z"),
                health.health("service-b", A));

        advanceMillis(999);
        assertFalse(health.isHealthy("service-b", A), "still ejected just before the base time");
        advanceMillis(1);
        assertTrue(health.isHealthy("service-b", A), "an ejection ends by time");
        assertEquals("back from ejection 1 (ejected 1000 ms)", health.health("service-b", A).reason());

        fail(A, 5);
        assertEquals("ejected: 5 consecutive failures (last: status 503), until 2026-11-22T07:00:02Z",
                health.health("service-b", A).reason(), "the second ejection lasts twice the base");
        advanceMillis(1_999);
        assertFalse(health.isHealthy("service-b", A));
        advanceMillis(1);
        assertTrue(health.isHealthy("service-b", A));

        fail(A, 5);
        advanceMillis(2_499);
        assertFalse(health.isHealthy("service-b", A), "3 x base = 3000 ms is capped at 2500 ms");
        advanceMillis(1);
        assertTrue(health.isHealthy("service-b", A));

        advanceMillis(2_500); // un-ejected for max_ejection_ms: the penalty starts again from the base
        fail(A, 5);
        advanceMillis(1_000);
        assertTrue(health.isHealthy("service-b", A));
    }

    /**
     * An operator reading the log sees why an instance left rotation and when it came back, once per change: an
     * ejection, active checks starting to fail and passing again. Reports that change nothing write nothing.
     */
    @Test
    void healthChangesAreLoggedOnceEach() {
        PrintStream stderr = System.err;
        ByteArrayOutputStream logged = new ByteArrayOutputStream();
        System.setErr(new PrintStream(logged, true, StandardCharsets.UTF_8)); // slf4j-simple looks System.err up per line
        try {
            fail(A, 9); // ejected at the fifth; the others come while it is out
            for (int i = 0; i < 5; i++) {
                health.onCheckFailed("service-b", B, "connection refused");
            }
            for (int i = 0; i < 3; i++) {
                health.onCheckPassed("service-b", B);
            }
        } finally {
            System.setErr(stderr);
        }
        List<String> lines = logged.toString(StandardCharsets.UTF_8).lines().filter(l -> l.contains("HealthTracker")).toList();
        assertEquals(3, lines.size(), lines::toString);
        assertTrue(lines.get(0).endsWith("health service-b/127.0.0.1:9001: ejected: 5 consecutive failures (last: status 503), "
                + "until 2026-11-22T07:00:01Z (1000 ms)"), lines::toString);
        assertTrue(lines.get(1).endsWith("health service-b/127.0.0.1:9002: failing checks: 3 consecutive (connection refused)"),
                lines::toString);
        assertTrue(lines.get(2).endsWith("health service-b/127.0.0.1:9002: passing checks: 2 consecutive"), lines::toString);
    }

    @Test
    void aSuccessResetsTheCount() {
        fail(A, 4);
        health.onSuccess("service-b", A);
        fail(A, 4);
        assertTrue(health.isHealthy("service-b", A));
        assertEquals("4 consecutive failures (last: status 503)", health.health("service-b", A).reason());
    }

    @Test
    void aSuccessStillResetsTheCountAfterOtherInstancesStoppedFailingOrWereForgotten() {
        // The tracker skips a success's lookups while no instance anywhere has a failure to reset: every way an
        // instance stops counting (a success, a healthy mark, being forgotten) must leave the others' failures seen.
        fail(A, 1);
        fail(B, 1);
        fail(C, 1);
        health.onSuccess("service-b", A);
        health.mark("service-b", B, true, "marked healthy");
        services.put("service-b", List.of(A, B));
        health.syncWithRegistry();
        advanceMillis(TimeUnit.MINUTES.toMillis(1));
        health.syncWithRegistry(); // C, draining for a minute, is forgotten with its failure
        assertFalse(health.isTracked("service-b", C));

        fail(A, 4);
        health.onSuccess("service-b", A);
        fail(A, 4);
        assertTrue(health.isHealthy("service-b", A), "the success in between reset A's count");
        assertEquals("4 consecutive failures (last: status 503)", health.health("service-b", A).reason());
    }

    @Test
    void atMostTheConfiguredShareIsEjected() {
        services.put("service-b", List.of(A, B, C, D));
        fail(A, 5);
        fail(B, 5);
        assertFalse(health.isHealthy("service-b", A));
        assertFalse(health.isHealthy("service-b", B), "2 of 4 is 50%");
        fail(C, 5);
        assertTrue(health.isHealthy("service-b", C), "a third ejection would pass the 50% cap");
        assertEquals("5 consecutive failures, not ejected: 2 of 4 instances already ejected (max 50%)",
                health.health("service-b", C).reason());

        advanceMillis(1_000); // A and B return
        fail(C, 1);
        assertFalse(health.isHealthy("service-b", C), "room again: the next failure ejects");
    }

    @Test
    void theLastInstanceIsLeftToItsBreaker() {
        services.put("service-b", List.of(A));
        fail(A, 5);
        assertTrue(health.isHealthy("service-b", A), "ejecting the only instance would turn probing into 'no healthy instance'");
        assertEquals("5 consecutive failures, not ejected: the only instance, left to its circuit breaker",
                health.health("service-b", A).reason(), "the reason names the rule, not the percentage cap it did not reach");
    }

    @Test
    void theLastOneNotEjectedIsLeftToItsBreakerWhateverThePercentage() {
        HealthTracker all = new HealthTracker(registry, nanos::get, clock, new HealthTracker.Settings(5, 1_000, 2_500, 100, 3, 2));
        services.put("service-b", List.of(A, B));
        for (int i = 0; i < 5; i++) {
            all.onFailure("service-b", A, "status 503");
            all.onFailure("service-b", B, "status 503");
        }
        assertFalse(all.isHealthy("service-b", A));
        assertTrue(all.isHealthy("service-b", B), "100% allowed, yet never the last instance");
        assertEquals("5 consecutive failures, not ejected: never the last instance (1 of 2 already out: ejected or failing checks), left to its circuit breaker",
                all.health("service-b", B).reason());
    }

    @Test
    void passiveEjectionNeverTakesTheOneInstanceActiveChecksLeft() {
        services.put("service-b", List.of(A, B));
        for (int i = 0; i < 3; i++) {
            health.onCheckFailed("service-b", A, "connection refused");
        }
        assertFalse(health.isHealthy("service-b", A));
        fail(B, 5);
        // The cap counts ejections only (none yet), so B would go, and the service answer "no healthy instance".
        assertTrue(health.isHealthy("service-b", B), "B is the last instance in rotation");
        assertEquals("5 consecutive failures, not ejected: never the last instance (1 of 2 already out: ejected or failing checks),"
                + " left to its circuit breaker", health.health("service-b", B).reason());
        health.onCheckPassed("service-b", A);
        health.onCheckPassed("service-b", A);
        fail(B, 1);
        assertFalse(health.isHealthy("service-b", B), "A is back: B may go");
    }

    @Test
    void oneOfTwoMayBeEjectedWhateverThePercentage() {
        services.put("service-b", List.of(A, B));
        fail(A, 5);
        assertFalse(health.isHealthy("service-b", A), "Envoy's rule: at least one host, whatever the percentage");
    }

    @Test
    void activeChecksNeedConsecutiveResults() {
        health.onCheckFailed("service-b", B, "connection refused");
        health.onCheckFailed("service-b", B, "connection refused");
        assertTrue(health.isHealthy("service-b", B));
        health.onCheckFailed("service-b", B, "connection refused");
        assertEquals(new HealthTracker.Health(false, "failing checks: 3 consecutive (connection refused)"), health.health("service-b", B));
        health.onCheckPassed("service-b", B);
        assertFalse(health.isHealthy("service-b", B), "healthy_after is 2");
        health.onCheckPassed("service-b", B);
        assertEquals(new HealthTracker.Health(true, "passing checks: 2 consecutive"), health.health("service-b", B));
    }

    @Test
    void theReasonFollowsTheChecksAfterARecovery() {
        for (int i = 0; i < 3; i++) {
            health.onCheckFailed("service-b", B, "status 503");
        }
        for (int i = 0; i < 200; i++) {
            health.onCheckPassed("service-b", B);
        }
        assertEquals(new HealthTracker.Health(true, "passing checks: 200 consecutive"), health.health("service-b", B));
        health.onCheckFailed("service-b", B, "status 503");
        assertEquals(new HealthTracker.Health(true, "failed checks: 1 consecutive (status 503), not yet unhealthy"),
                health.health("service-b", B));
        health.onCheckPassed("service-b", B);
        assertEquals(new HealthTracker.Health(true, "passing checks: 1 consecutive"), health.health("service-b", B));
    }

    @Test
    void instancesTheRegistryDroppedDoNotCountAgainstTheCap() {
        Endpoint e = new Endpoint("127.0.0.1", 9005);
        Endpoint f = new Endpoint("127.0.0.1", 9006);
        services.put("service-b", List.of(A, B, C, D));
        fail(A, 5);
        fail(B, 5);
        // A rolling deploy: the registry replaces the two ejected instances while their ejections still run.
        services.put("service-b", List.of(C, D, e, f));
        health.syncWithRegistry();
        fail(C, 5);
        assertFalse(health.isHealthy("service-b", C), "none of the 4 listed instances is ejected: room for 2");
    }

    @Test
    void passingChecksEndAnEjectionEarly() {
        fail(A, 5);
        assertFalse(health.isHealthy("service-b", A));
        health.onCheckPassed("service-b", A);
        health.onCheckPassed("service-b", A);
        assertEquals(new HealthTracker.Health(true, "passing checks ended an ejection"), health.health("service-b", A));
    }

    @Test
    void passesBeforeAnEjectionDoNotCountTowardsEndingIt() {
        health.onCheckPassed("service-b", A);
        health.onCheckPassed("service-b", A);
        health.onCheckPassed("service-b", A); // checks pass, traffic fails: outlier ejection
        fail(A, 5);
        assertFalse(health.isHealthy("service-b", A));
        health.onCheckPassed("service-b", A);
        assertFalse(health.isHealthy("service-b", A), "healthy_after is 2: one pass since the ejection is not enough");
        health.onCheckPassed("service-b", A);
        assertEquals(new HealthTracker.Health(true, "passing checks ended an ejection"), health.health("service-b", A));
    }

    @Test
    void instancesTheRegistryDropsAreDraining() {
        fail(C, 1);
        services.put("service-b", List.of(A, B));
        health.syncWithRegistry();
        assertEquals(new HealthTracker.Health(false, "draining: no longer passing in the registry"), health.health("service-b", C));
        services.put("service-b", List.of(A, B, C));
        health.syncWithRegistry();
        assertEquals(new HealthTracker.Health(true, "listed by the registry again"), health.health("service-b", C));
    }

    @Test
    void marksOverrideAndAHealthyMarkClears() {
        fail(A, 5);
        health.mark("service-b", B, false, "marked unhealthy");
        assertEquals(new HealthTracker.Health(false, "marked unhealthy"), health.health("service-b", B));
        health.mark("service-b", A, true, "marked healthy");
        assertEquals(new HealthTracker.Health(true, "marked healthy"), health.health("service-b", A));
        assertEquals(HealthTracker.Health.UNKNOWN_HEALTHY, health.health("service-b", D));
    }

    @Test
    void theSelectorSkipsEjectedInstancesAndAnswersNullWhenNoneIsLeft() {
        CircuitBreakers breakers = new CircuitBreakers(CircuitBreakerConfig.DEFAULT, nanos::get);
        RoundRobinSelector selector = new RoundRobinSelector(registry, health, breakers);
        fail(B, 5);
        List<Endpoint> picked = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            picked.add(selector.next("service-b"));
        }
        assertFalse(picked.contains(B), picked.toString());
        assertTrue(picked.contains(A) && picked.contains(C));
        assertEquals(List.of("service-b"), List.copyOf(health.routedServices()));

        health.mark("service-b", A, false, "down");
        health.mark("service-b", C, false, "down");
        assertNull(selector.next("service-b"), "no panic mode: nothing healthy means no instance");
    }
}

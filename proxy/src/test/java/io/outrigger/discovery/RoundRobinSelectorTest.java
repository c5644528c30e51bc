package io.outrigger.discovery;

import io.outrigger.resilience.CircuitBreakerConfig;
import io.outrigger.resilience.CircuitBreakers;
import io.outrigger.time.FakeTicker;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class RoundRobinSelectorTest {
    private static final Endpoint A = new Endpoint("127.0.0.1", 1001);
    private static final Endpoint B = new Endpoint("127.0.0.1", 1002);
    private static final Endpoint C = new Endpoint("127.0.0.1", 1003);

    private final FakeTicker ticker = new FakeTicker();
    private final HealthTracker health = new HealthTracker();
    private final CircuitBreakers breakers = new CircuitBreakers(new CircuitBreakerConfig(1, 1000, 1), ticker);
    private final RoundRobinSelector selector = new RoundRobinSelector(
            new FileRegistry(Map.of("svc", List.of(A, B, C)), "test"), health, breakers);

    private List<Endpoint> pick(int n) {
        List<Endpoint> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(selector.next("svc"));
        }
        return out;
    }

    @Test
    void onlyServicesWithInstancesAreNotedForActiveChecks() {
        // A line-JSON route names any service: each unknown name kept for active checks grew memory for good.
        for (int i = 0; i < 1000; i++) {
            assertNull(selector.next("no-such-service-" + i));
        }
        assertEquals(Set.of(), health.routedServices());
        selector.next("svc");
        assertEquals(Set.of("svc"), health.routedServices());
    }

    @Test
    void rotatesOverAllInstances() {
        assertEquals(List.of(A, B, C, A, B, C), pick(6));
    }

    @Test
    void skipsUnhealthyAndComesBackAfterRecovery() {
        health.mark("svc", B, false, "failing checks");
        assertEquals(List.of(A, C, A, C), pick(4), "turns over the healthy instances alike");
        assertEquals(List.of(A, C), selector.healthy("svc"));
        health.mark("svc", B, true, "checks passing");
        assertEquals(Set.of(A, B, C), Set.copyOf(pick(3)));
    }

    @Test
    void skipsInstancesWhoseBreakerIsOpenUntilItMayProbe() {
        breakers.forInstance("svc", A).onFailure();
        for (Endpoint e : pick(6)) {
            assertEquals(true, e != A);
        }
        ticker.advanceMillis(1000);
        assertEquals(true, pick(3).contains(A));
    }

    @Test
    void prefersInstancesNotYetTriedButFallsBackToThem() {
        for (int i = 0; i < 6; i++) {
            Endpoint e = selector.next("svc", Set.of(A, B));
            assertEquals(C, e);
        }
        health.mark("svc", C, false, "down");
        assertEquals(true, Set.of(A, B).contains(selector.next("svc", Set.of(A, B))));
    }

    @Test
    void noneLeftOrUnknownService() {
        health.mark("svc", A, false, "x");
        health.mark("svc", B, false, "x");
        health.mark("svc", C, false, "x");
        assertNull(selector.next("svc"));
        assertNull(selector.next("nope"));
        assertEquals(List.of(), selector.healthy("nope"));
    }
}

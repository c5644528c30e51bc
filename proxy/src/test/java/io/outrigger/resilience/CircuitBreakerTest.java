package io.outrigger.resilience;

import io.outrigger.time.FakeTicker;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static io.outrigger.resilience.CircuitBreaker.State.CLOSED;
import static io.outrigger.resilience.CircuitBreaker.State.HALF_OPEN;
import static io.outrigger.resilience.CircuitBreaker.State.OPEN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CircuitBreakerTest {
    private final FakeTicker ticker = new FakeTicker();
    private final List<String> transitions = new ArrayList<>();

    private CircuitBreaker breaker(int threshold, long openMillis, int probes) {
        CircuitBreaker b = new CircuitBreaker("service-b", new CircuitBreakerConfig(threshold, openMillis, probes), ticker);
        b.addListener((br, from, to, reason) -> transitions.add(from + "->" + to + ": " + reason));
        return b;
    }

    @Test
    void opensAfterThresholdConsecutiveFailures() {
        CircuitBreaker b = breaker(5, 1000, 1);
        for (int i = 0; i < 4; i++) {
            assertTrue(b.tryAcquirePermission());
            b.onFailure();
            assertEquals(CLOSED, b.state());
        }
        b.onFailure();
        assertEquals(OPEN, b.state());
        assertEquals(5, b.consecutiveFailures());
        assertEquals(List.of("CLOSED->OPEN: 5 consecutive failures"), transitions);
        assertFalse(b.tryAcquirePermission());
        assertFalse(b.isCallPermitted());
    }

    @Test
    void aProbeGivenBackIsGrantedAgainAtOnce() {
        CircuitBreaker b = breaker(1, 1000, 1);
        long closed = b.acquirePermission();
        b.releasePermission(closed);
        assertEquals(CLOSED, b.state(), "closed: nothing to give back");
        b.onFailure();
        b.releasePermission(closed);
        assertFalse(b.tryAcquirePermission(), "open: a release grants nothing");
        ticker.advanceMillis(1000);
        long probe = b.acquirePermission();
        assertTrue(probe != CircuitBreaker.NO_PERMIT);
        assertFalse(b.tryAcquirePermission(), "the one probe is out");
        b.releasePermission(probe); // its client left before the upstream answered
        b.releasePermission(probe); // a second release never adds a probe the config does not have
        assertTrue(b.tryAcquirePermission(), "given back: granted again without waiting open_ms");
        assertFalse(b.tryAcquirePermission());
        assertEquals(HALF_OPEN, b.state());
    }

    @Test
    void onlyAProbeOfTheCurrentRoundIsGivenBack() {
        CircuitBreaker b = breaker(1, 1000, 1);
        long closed = b.acquirePermission(); // let through before the breaker opened
        b.onFailure();
        ticker.advanceMillis(1000);
        long first = b.acquirePermission();
        assertTrue(first != CircuitBreaker.NO_PERMIT);
        b.releasePermission(closed);
        assertFalse(b.tryAcquirePermission(), "a call let through while closed was no probe: nothing goes back");

        ticker.advanceMillis(1000); // the probe never reported: a new round
        long second = b.acquirePermission();
        assertTrue(second != CircuitBreaker.NO_PERMIT);
        b.releasePermission(first);
        assertFalse(b.tryAcquirePermission(), "a probe of an earlier round is not one of those out now");
        b.releasePermission(second);
        assertTrue(b.tryAcquirePermission(), "the current round's probe goes back");
    }

    @Test
    void successResetsTheConsecutiveCount() {
        CircuitBreaker b = breaker(3, 1000, 1);
        b.onFailure();
        b.onFailure();
        b.onSuccess();
        b.onFailure();
        b.onFailure();
        assertEquals(CLOSED, b.state());
        b.onFailure();
        assertEquals(OPEN, b.state());
    }

    @Test
    void halfOpenAfterOpenTimeThenClosesOnProbeSuccess() {
        CircuitBreaker b = breaker(1, 1000, 1);
        b.onFailure();
        ticker.advanceMillis(999);
        assertFalse(b.tryAcquirePermission());
        ticker.advanceMillis(1);
        assertTrue(b.isCallPermitted());
        assertTrue(b.tryAcquirePermission());
        assertEquals(HALF_OPEN, b.state());
        assertFalse(b.tryAcquirePermission(), "only one probe while half-open");
        b.onSuccess();
        assertEquals(CLOSED, b.state());
        assertEquals(0, b.consecutiveFailures());
        assertEquals(List.of("CLOSED->OPEN: 1 consecutive failures",
                "OPEN->HALF_OPEN: probing after 1000 ms open",
                "HALF_OPEN->CLOSED: half-open probe succeeded"), transitions);
    }

    @Test
    void failedProbeReopensForAnotherOpenPeriod() {
        CircuitBreaker b = breaker(2, 500, 1);
        b.onFailure();
        b.onFailure();
        ticker.advanceMillis(500);
        assertTrue(b.tryAcquirePermission());
        b.onFailure();
        assertEquals(OPEN, b.state());
        assertEquals("half-open probe failed", b.snapshot().reason());
        ticker.advanceMillis(499);
        assertFalse(b.tryAcquirePermission());
        ticker.advanceMillis(1);
        assertTrue(b.tryAcquirePermission());
    }

    @Test
    void letsTheConfiguredNumberOfProbesThrough() {
        CircuitBreaker b = breaker(1, 100, 3);
        b.onFailure();
        ticker.advanceMillis(100);
        assertTrue(b.tryAcquirePermission());
        assertTrue(b.tryAcquirePermission());
        assertTrue(b.tryAcquirePermission());
        assertFalse(b.tryAcquirePermission());
    }

    @Test
    void aProbeThatNeverReportsDoesNotWedgeTheBreaker() {
        CircuitBreaker b = breaker(1, 100, 1);
        b.onFailure();
        ticker.advanceMillis(100);
        assertTrue(b.tryAcquirePermission());
        assertFalse(b.tryAcquirePermission());
        ticker.advanceMillis(100);
        assertTrue(b.tryAcquirePermission(), "a new probe after another open period");
    }

    @Test
    void failuresWhileOpenAreNotCountedAndLateSuccessDoesNotClose() {
        CircuitBreaker b = breaker(2, 1000, 1);
        b.onFailure();
        b.onFailure();
        b.onFailure();
        assertEquals(2, b.consecutiveFailures());
        b.onSuccess();
        assertEquals(OPEN, b.state());
    }

    @Test
    void forcedTransitions() {
        CircuitBreaker b = breaker(5, 1000, 1);
        b.transitionTo(OPEN, "operator");
        assertFalse(b.tryAcquirePermission());
        b.transitionTo(HALF_OPEN, "operator");
        assertTrue(b.tryAcquirePermission());
        b.onSuccess();
        assertEquals(CLOSED, b.state());
        assertEquals(CircuitBreaker.State.HALF_OPEN, CircuitBreaker.State.fromWireName("half_open"));
        assertEquals(null, CircuitBreaker.State.fromWireName("ajar"));
    }

    @Test
    void listenerExceptionsAreContained() {
        CircuitBreaker b = breaker(1, 1000, 1);
        b.addListener((br, from, to, reason) -> {
            throw new IllegalStateException("boom");
        });
        b.onFailure();
        assertEquals(OPEN, b.state());
        assertEquals(1, transitions.size());
    }

    @Test
    void concurrentFailuresOpenExactlyOnce() throws Exception {
        CircuitBreaker b = new CircuitBreaker("x", new CircuitBreakerConfig(1000, 60_000, 1), ticker);
        AtomicInteger opened = new AtomicInteger();
        b.addListener((br, from, to, reason) -> {
            if (to == OPEN) {
                opened.incrementAndGet();
            }
        });
        ExecutorService pool = Executors.newFixedThreadPool(4);
        CountDownLatch start = new CountDownLatch(1);
        for (int t = 0; t < 4; t++) {
            pool.execute(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < 500; i++) {
                    b.onFailure();
                }
            });
        }
        start.countDown();
        pool.shutdown();
        assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        assertEquals(OPEN, b.state());
        assertEquals(1000, b.consecutiveFailures(), "failures after opening are not counted");
        assertEquals(1, opened.get());
    }

    @Test
    void configIsValidated() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new CircuitBreakerConfig(0, 1, 1));
        assertEquals("failureThreshold: 0 (expected: > 0)", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new CircuitBreakerConfig(1, -1, 1));
        assertThrows(IllegalArgumentException.class, () -> new CircuitBreakerConfig(1, 1, 0));
    }
}

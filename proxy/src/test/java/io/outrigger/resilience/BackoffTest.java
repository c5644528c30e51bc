package io.outrigger.resilience;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BackoffTest {

    @Test
    void exponentialDoublesFromBase() {
        Backoff b = Backoff.exponential(50, 10_000);
        assertEquals(50, b.nextDelayMillis(1));
        assertEquals(100, b.nextDelayMillis(2));
        assertEquals(200, b.nextDelayMillis(3));
        assertEquals(400, b.nextDelayMillis(4));
    }

    @Test
    void capsAtMaxWithoutOverflow() {
        Backoff b = Backoff.exponential(25, 250);
        assertEquals(200, b.nextDelayMillis(4));
        assertEquals(250, b.nextDelayMillis(5));
        assertEquals(250, b.nextDelayMillis(64));
        assertEquals(250, b.nextDelayMillis(Integer.MAX_VALUE));
    }

    @Test
    void fullJitterStaysWithinZeroAndTheExponentialDelay() {
        Random seeded = new Random(42);
        Backoff b = new ExponentialBackoff(100, 1000, true, () -> seeded);
        long min = Long.MAX_VALUE;
        long max = Long.MIN_VALUE;
        for (int i = 0; i < 10_000; i++) {
            long d = b.nextDelayMillis(2);
            min = Math.min(min, d);
            max = Math.max(max, d);
        }
        assertTrue(min >= 0 && min < 10, "min " + min);
        assertTrue(max <= 200 && max > 190, "max " + max);
    }

    @Test
    void withMaxRetriesStops() {
        Backoff b = Backoff.exponential(10, 100).withMaxRetries(2);
        assertEquals(10, b.nextDelayMillis(1));
        assertEquals(20, b.nextDelayMillis(2));
        assertTrue(b.nextDelayMillis(3) < 0);
    }

    @Test
    void rejectsBadSettings() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backoff.exponential(100, 10));
        assertEquals("maxMillis: 10 (expected: >= baseMillis 100)", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Backoff.exponential(-1, 10));
        assertThrows(IllegalArgumentException.class, () -> Backoff.exponential(1, 10).nextDelayMillis(0));
        assertThrows(IllegalArgumentException.class, () -> Backoff.exponential(1, 10).withMaxRetries(-1));
    }
}

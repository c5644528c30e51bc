package io.outrigger.registry.consul;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class DurationsTest {

    @Test
    void parsesConsulDurations() {
        assertEquals(10_000, Durations.parseMillis("10s"));
        assertEquals(60_000, Durations.parseMillis("1m"));
        assertEquals(500, Durations.parseMillis("500ms"));
        assertEquals(90_000, Durations.parseMillis("1m30s"));
        assertEquals(1_500, Durations.parseMillis("1.5s"));
        assertEquals(3_600_000, Durations.parseMillis("1h"));
        assertEquals(1, Durations.parseMillis("10us"));
        assertEquals(0, Durations.parseMillis("0"));
    }

    /** Go's time.ParseDuration takes one leading sign: {@code -1s}, {@code +5s}, {@code -0}. */
    @Test
    void takesALeadingSignAsGoDoes() {
        assertEquals(-1_000, Durations.parseMillis("-1s"));
        assertEquals(-90_000, Durations.parseMillis("-1m30s"));
        assertEquals(5_000, Durations.parseMillis("+5s"));
        assertEquals(-1, Durations.parseMillis("-10us"));
        assertEquals(0, Durations.parseMillis("-0"));
        assertEquals(0, Durations.parseMillis("+0"));
    }

    @Test
    void rejectsOtherText() {
        for (String bad : new String[] {"", "10", "s", "10 s", "10d", "1s foo", "-", "+", "--1s", "1s-1s", "- 1s", "-10"}) {
            assertThrows(IllegalArgumentException.class, () -> Durations.parseMillis(bad), bad);
        }
    }
}

package io.outrigger.time;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class WarnLimiterTest {
    @Test
    void warnsAtMostOnceASecondAndCountsWhatItHeldBack() {
        FakeTicker ticker = new FakeTicker();
        WarnLimiter log = new WarnLimiter(ticker);

        assertEquals(0, log.admit(), "the first refusal is a warning");
        for (int i = 0; i < 5; i++) {
            assertEquals(-1, log.admit(), "refusal " + i + " within the second goes to debug");
        }
        ticker.advanceMillis(999);
        assertEquals(-1, log.admit());
        ticker.advanceMillis(1);
        assertEquals(6, log.admit(), "a second later: a warning counting the six held back");
        ticker.advanceMillis(5000);
        assertEquals(0, log.admit(), "nothing held back since");
    }
}

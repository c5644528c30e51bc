package io.outrigger.resilience;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RetryBudgetTest {

    @Test
    void floorAllowsRetriesAtLowTraffic() {
        RetryBudget budget = new RetryBudget(20, 2);
        budget.onRequestStart();
        assertTrue(budget.tryAcquireRetry());
        assertTrue(budget.tryAcquireRetry());
        assertFalse(budget.tryAcquireRetry(), "20% of 1 request rounds to 0: only the floor of 2");
        budget.releaseRetry();
        assertTrue(budget.tryAcquireRetry());
    }

    @Test
    void percentOfLiveRequestsAboveTheFloor() {
        RetryBudget budget = new RetryBudget(20, 0);
        for (int i = 0; i < 50; i++) {
            budget.onRequestStart();
        }
        int granted = 0;
        while (budget.tryAcquireRetry()) {
            granted++;
        }
        assertEquals(10, granted);
        for (int i = 0; i < 50; i++) {
            budget.onRequestEnd();
        }
        assertEquals(0, budget.liveRequests());
    }

    @Test
    void rejectsBadSettings() {
        assertThrows(IllegalArgumentException.class, () -> new RetryBudget(101, 0));
        assertThrows(IllegalArgumentException.class, () -> new RetryBudget(20, -1));
    }
}

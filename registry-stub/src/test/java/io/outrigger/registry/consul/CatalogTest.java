package io.outrigger.registry.consul;

import org.junit.jupiter.api.Test;

import java.net.URI;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CatalogTest {
    private static final long MILLIS = 1_000_000L;
    private final AtomicLong clock = new AtomicLong();
    private final Catalog catalog = new Catalog(clock::get);

    private static HttpCheck check(long deregisterAfterMillis) {
        return new HttpCheck(URI.create("http://127.0.0.1:1/health"), 1000, 1000, deregisterAfterMillis);
    }

    @Test
    void aReRegisteredCheckKeepsItsStatusAsConsulsAgentDoes() {
        ServiceInstance first = catalog.register("b-1", "service-b", "127.0.0.1", 9001, check(0));
        assertFalse(first.passing(), "a new check starts critical");
        catalog.checkResult("b-1", first.serial(), true);

        ServiceInstance again = catalog.register("b-1", "service-b", "127.0.0.1", 9001, check(0));
        assertTrue(again.passing(), "the status of the check it replaces");
        assertEquals(1, catalog.health("service-b", true).value().size());
    }

    /** Consul's agent makes a new check state on re-registration: the time critical counts again from there. */
    @Test
    void aReRegisteredCriticalCheckStaysCriticalAndCountsAgain() {
        catalog.register("b-1", "service-b", "127.0.0.1", 9001, check(500));
        clock.set(400 * MILLIS);
        ServiceInstance again = catalog.register("b-1", "service-b", "127.0.0.1", 9001, check(500));
        assertFalse(again.passing());
        clock.set(800 * MILLIS);
        assertFalse(catalog.checkResult("b-1", again.serial(), false).passing(), "critical 400 ms since registered again");
        clock.set(900 * MILLIS);
        assertNull(catalog.checkResult("b-1", again.serial(), false), "critical 500 ms since registered again");
        assertEquals(0, catalog.size());
    }

    @Test
    void aCheckReplacingAnUncheckedInstanceStartsCriticalAndNoCheckIsPassing() {
        catalog.register("b-1", "service-b", "127.0.0.1", 9001, null);
        assertFalse(catalog.register("b-1", "service-b", "127.0.0.1", 9001, check(0)).passing());
        assertTrue(catalog.register("b-1", "service-b", "127.0.0.1", 9001, null).passing());
    }
}

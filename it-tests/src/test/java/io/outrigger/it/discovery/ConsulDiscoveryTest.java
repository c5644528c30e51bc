package io.outrigger.it.discovery;

import io.outrigger.discovery.ConsulRegistry;
import io.outrigger.discovery.Endpoint;
import io.outrigger.discovery.Registries;
import io.outrigger.it.harness.FreePorts;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static io.outrigger.it.discovery.LiveRegistry.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The sidecar's Consul-style discovery against a live registry stub on loopback. */
class ConsulDiscoveryTest {
    /**
     * Blocking queries of 1 s: a watch whose request the stopping stub accepted but never answered (the stub's
     * event loops may shut down between accepting a connection and closing it) recovers at its deadline,
     * wait + wait/16 + 2 s, about 3.1 s; the resync waits below allow for that.
     */
    private static final ConsulRegistry.Settings FAST = new ConsulRegistry.Settings(1_000, 20, 200);
    private static final Endpoint B1 = new Endpoint("127.0.0.1", 9001);
    private static final Endpoint B2 = new Endpoint("127.0.0.1", 9002);
    private static final Endpoint B3 = new Endpoint("127.0.0.1", 9003);

    private LiveRegistry stub;
    private ConsulRegistry registry;

    @BeforeEach
    void start() throws Exception {
        stub = new LiveRegistry();
        stub.register("b-1", "service-b", 9001);
        stub.register("c-1", "service-c", 9101);
        registry = Registries.consul(stub.url(), FAST);
        registry.ready().get(30, TimeUnit.SECONDS); // a bound on a hang, not a speed test
    }

    @AfterEach
    void stop() {
        registry.close();
        stub.close();
    }

    @Test
    void firstLoadHasTheCatalogAndItsInstances() {
        assertEquals(Set.of("service-b", "service-c"), registry.services());
        assertEquals(List.of(B1), registry.endpoints("service-b"));
        assertTrue(registry.contains("service-c"));
        assertFalse(registry.contains("service-x"));
        assertEquals(List.of(), registry.endpoints("service-x"));
    }

    @Test
    void anInstanceFailingItsRegistryCheckIsNeverRoutedToButShownWithTheReason() throws Exception {
        int nothingListens = FreePorts.next(); // handed to nothing else in this JVM
        stub.registerChecked("b-3", "service-b", 9003, "http://127.0.0.1:" + nothingListens + "/health");
        await("b-3 listed as withheld", 2_000, () -> registry.withheld("service-b").containsKey(B3));
        assertEquals(Map.of(B3, "registry check critical"), registry.withheld("service-b"));
        assertEquals(List.of(B1), registry.endpoints("service-b"), "only passing instances are routed to");
        stub.deregister("b-3");
        await("b-3 gone", 2_000, () -> registry.withheld("service-b").isEmpty());
    }

    @Test
    void seesANewInstanceAndARemovedOneWithinASecond() {
        AtomicInteger changes = new AtomicInteger();
        registry.onChange(changes::incrementAndGet);

        stub.register("b-2", "service-b", 9002);
        await("new instance seen within a second", 1_000, () -> registry.endpoints("service-b").equals(List.of(B1, B2)));

        stub.deregister("b-1");
        await("removed instance gone", 1_000, () -> registry.endpoints("service-b").equals(List.of(B2)));
        // Listeners run right after the new state is published, so the test thread may see the state first.
        await("listeners told of each change", 1_000, () -> changes.get() >= 2);

        stub.register("d-1", "service-d", 9201);
        await("new service seen", 1_000, () -> registry.endpoints("service-d").size() == 1);
        // Asking for service-d's endpoints starts a watch of its own, which may answer before the catalog's.
        await("new service in the catalog", 1_000, () -> registry.services().contains("service-d"));
        stub.deregister("d-1");
        await("service gone", 1_000, () -> !registry.contains("service-d") && registry.endpoints("service-d").isEmpty());
    }

    @Test
    void keepsTheLastKnownInstancesWhileTheRegistryIsDownAndResyncsWhenItReturns() throws Exception {
        stub.register("b-2", "service-b", 9002);
        await("b-2 seen", 1_000, () -> registry.endpoints("service-b").size() == 2);

        stub.stop();
        await("the outage noticed", 2_000, registry::stale);
        assertEquals(List.of(B1, B2), registry.endpoints("service-b"), "stale on error: last known instances");
        assertEquals(Set.of("service-b", "service-c"), registry.services());

        stub.restart(); // same port, empty state, index starting over
        stub.register("b-3", "service-b", 9003);
        stub.register("c-1", "service-c", 9101);
        try {
            await("resynced", 5_000, () -> registry.endpoints("service-b").equals(List.of(B3)) && !registry.stale()
                    && registry.services().equals(Set.of("service-b", "service-c")));
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + ": endpoints " + registry.endpoints("service-b") + ", stale "
                    + registry.stale() + ", services " + registry.services(), e);
        }

        stub.register("b-1", "service-b", 9001);
        await("watching again after the resync", 1_000, () -> registry.endpoints("service-b").equals(List.of(B3, B1)));
    }
}

package io.outrigger.it.discovery;

import io.outrigger.Sidecar;
import io.outrigger.SidecarContext;
import io.outrigger.config.ConfigLoader;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.Endpoint;
import io.outrigger.discovery.HealthTracker;
import io.outrigger.discovery.Registries;
import io.outrigger.discovery.Registry;
import io.outrigger.discovery.RoundRobinSelector;
import io.outrigger.registry.fake.Behaviour;
import io.outrigger.registry.fake.FakeService;
import io.outrigger.time.Ticker;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static io.outrigger.it.discovery.LiveRegistry.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Health-based routing with three live fake instances of service-b behind a live registry stub: one is made to
 * fail, the sidecar's health state takes it out of selection (active checks, or passive reports), and it gets
 * traffic again once it recovers.
 */
class HealthRoutingTest {
    private static final HttpClient CLIENT = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY)
            .version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(1)).build();

    private LiveRegistry stub;
    private final List<FakeService> instances = new ArrayList<>();
    private final List<Endpoint> endpoints = new ArrayList<>();
    private Sidecar sidecar;

    @BeforeEach
    void start() throws Exception {
        stub = new LiveRegistry();
        for (int i = 1; i <= 3; i++) {
            FakeService f = FakeService.start(FakeService.Settings.local("service-b").withInstanceId("b-" + i), new Behaviour(0, 0));
            instances.add(f);
            endpoints.add(new Endpoint("127.0.0.1", f.port()));
            stub.register("b-" + i, "service-b", f.port()); // no registry check: only the sidecar judges health here
        }
    }

    @AfterEach
    void stop() {
        if (sidecar != null) {
            sidecar.close();
        }
        instances.forEach(FakeService::close);
        stub.close();
    }

    private SidecarContext startSidecar(String health) throws Exception {
        SidecarConfig cfg = ConfigLoader.parse("name: sidecar-a\nregistry: " + stub.url() + "\nhealth: " + health + "\n", "test.yaml");
        Registry registry = Registries.open(cfg.registry());
        registry.ready().get(30, TimeUnit.SECONDS); // a bound on a hang, not a speed test
        sidecar = new Sidecar(new SidecarContext(cfg, registry, Ticker.system()));
        sidecar.start();
        return sidecar.context();
    }

    private static Set<Endpoint> picks(RoundRobinSelector selector, int n) {
        Set<Endpoint> seen = new HashSet<>();
        for (int i = 0; i < n; i++) {
            Endpoint e = selector.next("service-b");
            if (e != null) {
                seen.add(e);
            }
        }
        return seen;
    }

    @Test
    void activeChecksTakeAFailingInstanceOutAndBringItBack() throws Exception {
        SidecarContext ctx = startSidecar("{interval_ms: 50, timeout_ms: 500, unhealthy_after: 2, healthy_after: 2}");
        HealthTracker health = ctx.health();
        Endpoint bad = endpoints.get(1);
        assertEquals(Set.copyOf(endpoints), picks(ctx.selector(), 6), "all three get traffic; routing starts the checks");

        instances.get(1).behaviour().setHealthFailing(true);
        await("failing checks take b-2 out", 2_000, () -> !health.isHealthy("service-b", bad));
        String reason = health.health("service-b", bad).reason(); // checks go on: the count may have grown past 2
        assertTrue(reason.matches("failing checks: \\d+ consecutive \\(status 503\\)"), reason);
        assertEquals(Set.of(endpoints.get(0), endpoints.get(2)), picks(ctx.selector(), 30), "no traffic to b-2");

        instances.get(1).behaviour().setHealthFailing(false);
        await("passing checks bring b-2 back", 2_000, () -> health.isHealthy("service-b", bad));
        String back = health.health("service-b", bad).reason(); // checks go on, and the reason counts them: 2 or more
        assertTrue(back.matches("passing checks: \\d+ consecutive") && !back.equals("passing checks: 1 consecutive"), back);
        assertEquals(Set.copyOf(endpoints), picks(ctx.selector(), 6), "b-2 gets traffic again");

        instances.get(2).close(); // gone without deregistering: connections are refused
        Endpoint gone = endpoints.get(2);
        await("refused checks take b-3 out", 2_000, () -> !health.isHealthy("service-b", gone));
        reason = health.health("service-b", gone).reason();
        assertTrue(reason.matches("failing checks: \\d+ consecutive \\(connection refused\\)"), reason);
        assertFalse(picks(ctx.selector(), 30).contains(gone));
    }

    @Test
    void passiveReportsEjectAFailingInstanceUntilTheEjectionEnds() throws Exception {
        SidecarContext ctx = startSidecar("{interval_ms: 0, eject_after_failures: 3, ejection_ms: 1500, max_ejected_percent: 50}");
        HealthTracker health = ctx.health();
        Endpoint bad = endpoints.get(0);
        instances.get(0).behaviour().setFailRate(1.0);

        // Real requests to the selected instances, reported as an edge would report them.
        int served = 0;
        while (health.isHealthy("service-b", bad)) {
            assertTrue(served++ < 50, "b-1 should have been ejected by now");
            exchange(ctx, ctx.selector().next("service-b"));
        }
        String reason = health.health("service-b", bad).reason();
        assertTrue(reason.matches("ejected: 3 consecutive failures \\(last: status 500\\), until \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ"), reason);
        assertEquals(Set.of(endpoints.get(1), endpoints.get(2)), picks(ctx.selector(), 30), "no traffic to the ejected b-1");

        // A second failing instance may not be ejected too: 2 of 3 would pass the 50% cap.
        instances.get(1).behaviour().setFailRate(1.0);
        for (int i = 0; i < 4; i++) {
            exchange(ctx, endpoints.get(1));
        }
        assertTrue(health.isHealthy("service-b", endpoints.get(1)));
        assertTrue(health.health("service-b", endpoints.get(1)).reason().contains("not ejected: 1 of 3 instances already ejected"),
                health.health("service-b", endpoints.get(1)).reason());

        instances.get(0).behaviour().setFailRate(0);
        await("the ejection ends by time", 4_000, () -> health.isHealthy("service-b", bad));
        assertEquals("back from ejection 1 (ejected 1500 ms)", health.health("service-b", bad).reason());
        assertTrue(picks(ctx.selector(), 6).contains(bad), "b-1 gets traffic again");
        assertEquals(200, exchange(ctx, bad));
    }

    /** One GET to an instance, its outcome reported to the health tracker; returns the status (0 on error). */
    private static int exchange(SidecarContext ctx, Endpoint e) throws InterruptedException {
        try {
            HttpResponse<Void> res = CLIENT.send(HttpRequest.newBuilder(URI.create("http://" + e + "/api")).timeout(Duration.ofSeconds(2))
                    .build(), HttpResponse.BodyHandlers.discarding());
            if (res.statusCode() >= 500) {
                ctx.health().onFailure("service-b", e, "status " + res.statusCode());
            } else {
                ctx.health().onSuccess("service-b", e);
            }
            return res.statusCode();
        } catch (IOException ex) {
            ctx.health().onFailure("service-b", e, ex.toString());
            return 0;
        }
    }
}

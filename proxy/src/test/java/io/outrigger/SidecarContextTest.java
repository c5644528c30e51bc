package io.outrigger;

import io.outrigger.config.ConfigLoader;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.Endpoint;
import io.outrigger.metrics.MicrometerProxyMetrics;
import io.outrigger.resilience.CircuitBreaker;
import io.outrigger.resilience.CircuitBreakers;
import io.outrigger.testing.ChangingRegistry;
import io.outrigger.time.Ticker;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SidecarContextTest {
    private static final Endpoint B1 = new Endpoint("127.0.0.1", 9001);
    private static final Endpoint B2 = new Endpoint("127.0.0.1", 9002);
    private static final Endpoint B3 = new Endpoint("127.0.0.1", 9003);
    private static final Endpoint APP = new Endpoint("127.0.0.1", 8080);

    @Test
    void anInstanceTheRegistryDropsTakesItsBreakerAlong() throws Exception {
        SidecarConfig cfg = ConfigLoader.parse("""
                name: sidecar-a
                service: service-a
                listeners:
                  inbound: { port: 0, app: "127.0.0.1:8080" }
                resilience:
                  breaker: { failure_threshold: 2, open_ms: 60000 }
                """, "test");
        ChangingRegistry registry = new ChangingRegistry();
        registry.set("service-b", List.of(B1, B2), Map.of(B3, "registry check critical"));
        registry.set("service-a", List.of(new Endpoint("127.0.0.1", 15006)), Map.of());
        MicrometerProxyMetrics metrics = MicrometerProxyMetrics.create(cfg.name());
        SidecarContext ctx = new SidecarContext(cfg, registry, Ticker.system(), metrics);
        metrics.bindTo(ctx);
        CircuitBreakers breakers = ctx.breakers();

        CircuitBreaker gone = breakers.forInstance("service-b", B1);
        for (int i = 0; i < 2; i++) {
            gone.onFailure();
        }
        assertEquals(CircuitBreaker.State.OPEN, gone.state());
        CircuitBreaker kept = breakers.forInstance("service-b", B2);
        CircuitBreaker critical = breakers.forInstance("service-b", B3);
        CircuitBreaker service = breakers.forService("service-b");
        CircuitBreaker app = breakers.forInstance("service-a", APP);
        metrics.onExchange("outbound", "service-b", B1, 503, 1, 1_000);
        metrics.onExchange("tcp", "service-b", B1, 0, 1, 1_000);
        metrics.onExchange("outbound", "service-b", B2, 200, 1, 1_000);
        metrics.onExchange("inbound", "service-a", APP, 200, 1, 1_000);
        assertTrue(metrics.scrape().contains("outrigger_requests_total{edge=\"tcp\",instance=\"127.0.0.1:9001\""));
        assertTrue(metrics.scrape().contains("breaker=\"service-b/127.0.0.1:9001\",instance=\"127.0.0.1:9001\",service=\"service-b\",sidecar=\"sidecar-a\",state=\"open\"} 1.0"));

        // B1 deregisters; B3 is still listed, only not passing; the app behind the inbound listener is no registry instance.
        registry.set("service-b", List.of(B2), Map.of(B3, "registry check critical"));
        registry.set("service-a", List.of(new Endpoint("127.0.0.1", 15006)), Map.of());

        assertNull(breakers.findInstance("service-b", B1));
        assertNull(breakers.find("service-b/127.0.0.1:9001"));
        assertSame(kept, breakers.findInstance("service-b", B2));
        assertSame(critical, breakers.findInstance("service-b", B3));
        assertSame(service, breakers.find("service-b"));
        assertSame(app, breakers.findInstance("service-a", APP));
        List<String> names = new ArrayList<>();
        breakers.all().forEach(b -> names.add(b.name()));
        assertFalse(names.contains("service-b/127.0.0.1:9001"), names.toString());
        String text = metrics.scrape();
        assertFalse(text.contains("outrigger_breaker_state{breaker=\"service-b/127.0.0.1:9001\""), text);
        assertFalse(text.contains("outrigger_breaker_transitions_total{breaker=\"service-b/127.0.0.1:9001\""), text);
        assertTrue(text.contains("outrigger_breaker_transitions_total{breaker=\"service-b/127.0.0.1:9002\""), text);
        assertTrue(text.contains("outrigger_breaker_state{breaker=\"service-b/127.0.0.1:9002\""), text);
        // Its request counts go too, on every edge: instances coming and going must not grow the scrape for good.
        assertFalse(text.contains("instance=\"127.0.0.1:9001\""), text);
        assertTrue(text.contains("outrigger_requests_total{edge=\"outbound\",instance=\"127.0.0.1:9002\""), text);
        assertTrue(text.contains("outrigger_requests_total{edge=\"inbound\",instance=\"127.0.0.1:8080\""), text);
        assertTrue(text.contains("outrigger_request_duration_seconds_count{edge=\"outbound\",service=\"service-b\",sidecar=\"sidecar-a\",status_class=\"5xx\"} 1"),
                "the service's latency stays whole: " + text);
        // An exchange still in flight when B1 left ends now: counted, but without the instance, so its series stay gone.
        metrics.onExchange("outbound", "service-b", B1, 200, 1, 1_000);
        text = metrics.scrape();
        assertFalse(text.contains("instance=\"127.0.0.1:9001\""), text);
        assertTrue(text.contains("outrigger_requests_total{edge=\"outbound\",instance=\"none\",service=\"service-b\",sidecar=\"sidecar-a\",status_class=\"2xx\"} 1.0"), text);

        // Registered again, the instance starts afresh.
        registry.set("service-b", List.of(B1, B2), Map.of());
        CircuitBreaker again = breakers.forInstance("service-b", B1);
        assertNotSame(gone, again);
        assertEquals(CircuitBreaker.State.CLOSED, again.state());
        metrics.onExchange("outbound", "service-b", B1, 200, 1, 1_000);
        assertTrue(metrics.scrape().contains("outrigger_requests_total{edge=\"outbound\",instance=\"127.0.0.1:9001\",service=\"service-b\",sidecar=\"sidecar-a\",status_class=\"2xx\"} 1.0"),
                "counted afresh, not into a meter dropped from the registry");
        assertNull(breakers.findInstance("service-b", B3), "B3 left the registry altogether");
    }
}

package io.outrigger.it.scenario;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * How the scenarios read what they see: hops out of a fake service's {@code /call} answer,
 * breakers and counters out of a sidecar's admin listener (served here by a stand-in on
 * loopback with the admin listener's document shapes), latency percentiles.
 */
class ScenarioReadingTest {
    private HttpServer admin;

    @AfterEach
    void stop() {
        if (admin != null) {
            admin.stop(0);
        }
    }

    @Test
    void hopsAreEveryEchoedViewInACallAnswerOutermostFirst() {
        String t = "4bf92f3577b34da6a3ce929d0e0e4736";
        String body = """
                {"service":"service-a","instance":"service-a-1","method":"GET","path":"/call/service-b/x",
                 "headers":{"traceparent":"00-%1$s-00f067aa0ba902b7-01","x-request-id":"r1","via":"1.1 sidecar-a"},
                 "downstream":{"status":200,"headers":{"traceparent":"00-%1$s-1111111111111111-01","x-request-id":"r1"},
                   "body":{"service":"service-b","instance":"service-b-2","method":"GET","path":"/x",
                           "headers":{"Traceparent":"00-%1$s-2222222222222222-01","X-Request-Id":"r1"}}}}
                """.formatted(t);
        List<TraceScenario.Hop> hops = TraceScenario.hops(body);

        assertEquals(3, hops.size(), hops.toString());
        assertEquals("service-a app (service-a-1)", hops.get(0).who());
        assertEquals("1.1 sidecar-a", hops.get(0).via());
        assertEquals("answer to service-a (200)", hops.get(1).who());
        assertEquals("service-b app (service-b-2)", hops.get(2).who());
        assertEquals("2222222222222222", hops.get(2).spanId(), "header names are matched case-insensitively");
        hops.forEach(h -> assertEquals(t, h.traceId()));
        assertEquals(List.of(), TraceScenario.hops("<html>bad gateway</html>"), "an error page has no hops");
    }

    @Test
    void breakersAndCountersAreReadFromClustersAndMetrics() throws IOException {
        admin = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        serve("/clusters", """
                {"registry":"http://127.0.0.1:8500","services":{"service-b":{
                  "breaker":{"state":"open","reason":"3 consecutive failures","consecutive_failures":3},
                  "instances":[{"address":"127.0.0.1:15006","healthy":true,"health_reason":"ok",
                                "breaker":{"state":"half_open","reason":"open_ms elapsed"}}]}}}
                """);
        serve("/metrics", """
                # HELP outrigger_breaker_transitions_total breaker state changes
                # TYPE outrigger_breaker_transitions_total counter
                outrigger_breaker_transitions_total{breaker="service",from="closed",instance="none",service="service-b",sidecar="a",to="open"} 2.0
                outrigger_breaker_transitions_total{breaker="instance",from="closed",instance="127.0.0.1:15006",service="service-b",sidecar="a",to="open"} 1.0
                outrigger_breaker_transitions_total{breaker="service",from="open",instance="none",service="service-c",sidecar="a",to="half_open"} 1.0
                outrigger_retries_total{edge="outbound",service="service-b",sidecar="a"} 4.0
                outrigger_retries_total{edge="tcp",service="service-b",sidecar="a"} 1.0
                """);
        admin.start();
        SidecarAdmin reader = new SidecarAdmin(URI.create("http://127.0.0.1:" + admin.getAddress().getPort()));

        assertEquals(new SidecarAdmin.Breaker("open", "3 consecutive failures"), reader.serviceBreaker("service-b").orElseThrow());
        assertTrue(reader.serviceBreaker("service-x").isEmpty());
        assertEquals(Map.of("127.0.0.1:15006", new SidecarAdmin.Breaker("half_open", "open_ms elapsed")), reader.instanceBreakers("service-b"));
        assertEquals(Map.of("service-b closed->open", 2, "service-b @ 127.0.0.1:15006 closed->open", 1), reader.breakerTransitions("service-b"));
        assertEquals(5.0, reader.counter("outrigger_retries_total", "service-b"));
    }

    private void serve(String path, String body) {
        admin.createContext(path, exchange -> {
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, bytes.length);
            exchange.getResponseBody().write(bytes);
            exchange.close();
        });
    }

    @Test
    void percentilesAreNearestRank() {
        List<Long> sorted = List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 100L);
        assertEquals(Duration.ofNanos(5), Traffic.percentile(sorted, 50));
        assertEquals(Duration.ofNanos(100), Traffic.percentile(sorted, 99));
        assertEquals(Duration.ZERO, Traffic.percentile(List.of(), 50));
    }
}

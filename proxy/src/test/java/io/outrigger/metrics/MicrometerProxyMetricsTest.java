package io.outrigger.metrics;

import io.micrometer.core.instrument.Tags;
import io.outrigger.SidecarContext;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.Endpoint;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.discovery.Registry;
import io.outrigger.time.Ticker;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MicrometerProxyMetricsTest {
    private static final Endpoint E = new Endpoint("10.0.1.1", 8080);

    @Test
    void statusesCollapseToTheirClass() {
        assertEquals("2xx", MicrometerProxyMetrics.statusClass(204));
        assertEquals("5xx", MicrometerProxyMetrics.statusClass(503));
        assertEquals("4xx", MicrometerProxyMetrics.statusClass(431));
        assertEquals("none", MicrometerProxyMetrics.statusClass(0));
        assertEquals("other", MicrometerProxyMetrics.statusClass(999));
    }

    @Test
    void breakerKeysSplitIntoServiceAndInstance() {
        assertEquals(Tags.of("breaker", "svc", "service", "svc", "instance", ""), MicrometerProxyMetrics.breakerTags("svc"));
        assertEquals(Tags.of("breaker", "svc/10.0.1.1:8080", "service", "svc", "instance", "10.0.1.1:8080"),
                MicrometerProxyMetrics.breakerTags("svc/10.0.1.1:8080"));
    }

    @Test
    void exchangesWithTheSameLabelsShareOneSeries() {
        MicrometerProxyMetrics m = MicrometerProxyMetrics.create("s");
        for (int i = 0; i < 1000; i++) {
            m.onExchange("outbound", "svc", E, 200 + (i % 5), 1, TimeUnit.MILLISECONDS.toNanos(i % 20));
        }
        assertEquals(1000.0, m.registry().get("outrigger.requests").counter().count());
        assertEquals(1000, m.registry().get("outrigger.request.duration").timer().count());
        assertEquals(1, m.registry().find("outrigger.requests").counters().size(), "status codes must not become labels");
    }

    @Test
    void retrySeriesExistAtZeroFromAServicesFirstExchange() {
        MicrometerProxyMetrics m = MicrometerProxyMetrics.create("s");
        m.onExchange("outbound", "svc", E, 200, 1, 1_000);
        String text = m.scrape();
        // So rate() and alerts on them have a series before the first retry, not a gap that reads as "no data".
        assertTrue(text.contains("outrigger_retries_total{edge=\"outbound\",service=\"svc\",sidecar=\"s\"} 0.0"), text);
        assertTrue(text.contains("outrigger_retry_budget_exhausted_total{edge=\"outbound\",service=\"svc\",sidecar=\"s\"} 0.0"), text);
    }

    @Test
    void scrapeWithoutTrafficListsBreakersAndHealthOfTheBoundContext() {
        MicrometerProxyMetrics m = MicrometerProxyMetrics.create("s");
        SidecarContext ctx = contextOf(m);
        assertFalse(m.scrape().contains("outrigger_instance_healthy"), "nothing before bindTo");
        m.bindTo(ctx);
        ctx.breakers().forService("svc");
        String text = m.scrape();
        assertTrue(text.contains("outrigger_instance_healthy{instance=\"10.0.1.1:8080\",service=\"svc\",sidecar=\"s\"} 1.0"), text);
        assertTrue(text.contains("outrigger_breaker_state{breaker=\"svc\",instance=\"\",service=\"svc\",sidecar=\"s\",state=\"closed\"} 1.0"), text);
        assertTrue(text.contains("jvm_memory_used_bytes{"), "JVM series are there too");
    }

    /** increase() over a series that appears at 1 sees nothing: a breaker's first opening must count from 0. */
    @Test
    void transitionSeriesExistAtZeroFromABreakersCreation() {
        MicrometerProxyMetrics m = MicrometerProxyMetrics.create("s");
        SidecarContext ctx = new SidecarContext(SidecarConfig.defaults(),
                new FileRegistry(Map.of("svc", List.of(E), "early", List.of()), "test"), Ticker.system(), m);
        ctx.breakers().forService("early"); // created before bindTo: counted all the same
        m.bindTo(ctx);
        io.outrigger.resilience.CircuitBreaker b = ctx.breakers().forInstance("svc", E);
        String labels = "breaker=\"svc/10.0.1.1:8080\",from=\"closed\",instance=\"10.0.1.1:8080\",service=\"svc\",sidecar=\"s\",to=\"open\"";
        String text = m.scrape();
        assertTrue(text.contains("outrigger_breaker_transitions_total{" + labels + "} 0.0"), text);
        for (String t : new String[] {"from=\"open\",", "from=\"half_open\","}) {
            assertTrue(text.contains("outrigger_breaker_transitions_total{breaker=\"svc/10.0.1.1:8080\"," + t), t + " in " + text);
        }
        assertTrue(text.contains("outrigger_breaker_transitions_total{breaker=\"early\",from=\"closed\""), text);
        trip(b);
        assertTrue(m.scrape().contains("outrigger_breaker_transitions_total{" + labels + "} 1.0"));
    }

    /**
     * A line-JSON call names any service, up to a line long, and gets a breaker for it: its name must not become labels
     * (eight series per name), or a client grows every scrape at will. Those of the registry and the local service have
     * their series.
     */
    @Test
    void breakersOfServicesOutsideTheRegistryHaveNoSeries() {
        MicrometerProxyMetrics m = MicrometerProxyMetrics.create("s");
        SidecarContext ctx = contextOf(m);
        m.bindTo(ctx);
        String named = "x".repeat(10_000);
        io.outrigger.resilience.CircuitBreaker b = ctx.breakers().forService(named);
        trip(b);
        ctx.breakers().forService("svc");
        ctx.breakers().forInstance(ctx.config().service(), new Endpoint("127.0.0.1", 8080)); // the inbound app's
        String text = m.scrape();
        assertFalse(text.contains("xxxxxxxxxx"), "a client-named breaker has series");
        assertTrue(text.contains("outrigger_breaker_state{breaker=\"svc\","), text);
        assertTrue(text.contains("outrigger_breaker_transitions_total{breaker=\"svc\","), text);
        assertTrue(text.contains("outrigger_breaker_state{breaker=\"" + ctx.config().service() + "/127.0.0.1:8080\","), text);
    }

    /** Every series of the sidecar's own says what it is: an empty HELP line leaves a dashboard's reader guessing. */
    @Test
    void everyOwnSeriesHasAHelpText() {
        MicrometerProxyMetrics m = MicrometerProxyMetrics.create("s");
        SidecarContext ctx = contextOf(m);
        m.bindTo(ctx);
        io.outrigger.resilience.CircuitBreaker b = ctx.breakers().forInstance("svc", E);
        trip(b);
        m.onExchange("outbound", "svc", E, 503, 1, 1_000);
        String text = m.scrape();
        assertTrue(text.contains("# HELP outrigger_breaker_transitions_total "), text);
        for (String line : text.split("\n")) {
            if (line.startsWith("# HELP outrigger_")) {
                assertTrue(line.split(" ", 4).length == 4 && !line.split(" ", 4)[3].isBlank(), "empty help: " + line);
            }
        }
    }

    @Test
    void anInstanceTheRegistryWithholdsReadsUnhealthyRatherThanVanishing() {
        Endpoint critical = new Endpoint("10.0.1.2", 8080);
        Registry registry = svc(() -> List.of(E), () -> Map.of(critical, "registry check critical"));
        MicrometerProxyMetrics m = MicrometerProxyMetrics.create("s");
        m.bindTo(new SidecarContext(SidecarConfig.defaults(), registry, Ticker.system(), m));
        String text = m.scrape();
        assertTrue(text.contains("outrigger_instance_healthy{instance=\"10.0.1.1:8080\",service=\"svc\",sidecar=\"s\"} 1.0"), text);
        // /clusters lists it as unhealthy; the gauge must say 0, not drop the series an alert would watch.
        assertTrue(text.contains("outrigger_instance_healthy{instance=\"10.0.1.2:8080\",service=\"svc\",sidecar=\"s\"} 0.0"), text);
    }

    /**
     * A gauge row keeps the function it was registered with: an instance that turned from critical to passing kept
     * reading 0 (and one that turned critical kept reading 1) while /clusters showed the change.
     */
    @Test
    void anInstanceReadsHealthyAgainOnceTheRegistryPassesIt() {
        Endpoint flapping = new Endpoint("10.0.1.2", 8080);
        boolean[] passing = {false};
        Registry registry = svc(() -> passing[0] ? List.of(E, flapping) : List.of(E),
                () -> passing[0] ? Map.of() : Map.of(flapping, "registry check critical"));
        MicrometerProxyMetrics m = MicrometerProxyMetrics.create("s");
        m.bindTo(new SidecarContext(SidecarConfig.defaults(), registry, Ticker.system(), m));
        String series = "outrigger_instance_healthy{instance=\"10.0.1.2:8080\",service=\"svc\",sidecar=\"s\"} ";
        String text = m.scrape();
        assertTrue(text.contains(series + "0.0"), text);
        passing[0] = true;
        text = m.scrape();
        assertTrue(text.contains(series + "1.0"), "passing again: " + text);
        passing[0] = false;
        text = m.scrape();
        assertTrue(text.contains(series + "0.0"), "critical again: " + text);
    }

    /**
     * An instance that leaves the registry and comes back at the same address between two scrapes (a restart) has a
     * new breaker, closed: its series must read the new one, not the one that left (kept open, or NaN once collected).
     */
    @Test
    void anInstanceBackBetweenTwoScrapesShowsItsNewBreaker() {
        MicrometerProxyMetrics m = MicrometerProxyMetrics.create("s");
        SidecarContext ctx = contextOf(m);
        m.bindTo(ctx);
        io.outrigger.resilience.CircuitBreaker left = ctx.breakers().forInstance("svc", E);
        trip(left);
        String labels = "breaker=\"svc/10.0.1.1:8080\",instance=\"10.0.1.1:8080\",service=\"svc\",sidecar=\"s\"";
        String text = m.scrape();
        assertTrue(text.contains("outrigger_breaker_state{" + labels + ",state=\"open\"} 1.0"), text);
        ctx.breakers().retainInstances("svc", Set.of());
        ctx.breakers().forInstance("svc", E);
        text = m.scrape();
        assertTrue(text.contains("outrigger_breaker_state{" + labels + ",state=\"closed\"} 1.0"), text);
        assertTrue(text.contains("outrigger_breaker_state{" + labels + ",state=\"open\"} 0.0"), text);
        assertTrue(text.contains("outrigger_breaker_consecutive_failures{" + labels + "} 0.0"), text);
    }

    /** A registry of one service, "svc", whose instances and withheld ones are read at each call. */
    private static Registry svc(Supplier<List<Endpoint>> endpoints, Supplier<Map<Endpoint, String>> withheld) {
        return new Registry() {
            @Override
            public List<Endpoint> endpoints(String service) {
                return "svc".equals(service) ? endpoints.get() : List.of();
            }

            @Override
            public Map<Endpoint, String> withheld(String service) {
                return "svc".equals(service) ? withheld.get() : Map.of();
            }

            @Override
            public boolean contains(String service) {
                return "svc".equals(service);
            }

            @Override
            public Set<String> services() {
                return Set.of("svc");
            }

            @Override
            public String describe() {
                return "test";
            }
        };
    }

    /** Five failures in a row: the default threshold, so the breaker opens. */
    private static void trip(io.outrigger.resilience.CircuitBreaker b) {
        for (int i = 0; i < 5; i++) {
            b.onFailure();
        }
    }

    /** A context with the defaults and a file registry of one service, "svc", at {@code E}, reporting to {@code m}. */
    private static SidecarContext contextOf(MicrometerProxyMetrics m) {
        return new SidecarContext(SidecarConfig.defaults(), new FileRegistry(Map.of("svc", List.of(E)), "test"), Ticker.system(), m);
    }
}

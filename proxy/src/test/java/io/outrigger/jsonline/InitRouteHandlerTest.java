package io.outrigger.jsonline;

import io.netty.channel.embedded.EmbeddedChannel;
import io.outrigger.SidecarContext;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.Endpoint;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.time.Ticker;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static io.outrigger.jsonline.JsonLineTesting.exchange;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** init's own msg_id counter, route's round robin over healthy instances with a permitting breaker, and health's limit. */
class InitRouteHandlerTest {
    private final JsonLineNode node = JsonLineTesting.node();
    private final EmbeddedChannel ch = JsonLineTesting.channel(node);

    @AfterEach
    void release() {
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void initOkCountsTheNodesOwnMessages() {
        for (int i = 0; i < 3; i++) {
            assertEquals("{\"src\":\"n1\",\"dest\":\"c0\",\"body\":{\"type\":\"init_ok\",\"in_reply_to\":7,\"msg_id\":" + i + "}}",
                    exchange(ch, "{\"src\":\"c0\",\"dest\":\"n1\",\"body\":{\"type\":\"init\",\"msg_id\":7,\"node_id\":\"n1\",\"node_ids\":[\"n1\"]}}"));
        }
    }

    @Test
    void initRejectsMistypedNodeIds() {
        assertEquals("{\"src\":\"n1\",\"dest\":\"c0\",\"body\":{\"type\":\"error\",\"in_reply_to\":1,\"code\":12,\"text\":\"node_ids: \\\"n1\\\" (expected: an array of strings)\"}}",
                exchange(ch, "{\"src\":\"c0\",\"dest\":\"n1\",\"body\":{\"type\":\"init\",\"msg_id\":1,\"node_ids\":\"n1\"}}"));
    }

    private String route() {
        return exchange(ch, "{\"src\":\"c0\",\"dest\":\"n1\",\"body\":{\"type\":\"route\",\"msg_id\":6,\"service\":\"service-b\"}}");
    }

    private static String routed(String host) {
        return "{\"src\":\"n1\",\"dest\":\"c0\",\"body\":{\"type\":\"routed\",\"in_reply_to\":6,\"service\":\"service-b\",\"instance\":{\"host\":\"" + host + "\",\"port\":8080}}}";
    }

    @Test
    void routeIsRoundRobin() {
        String first = route();
        String second = route();
        assertEquals(first.contains("10.0.1.1") ? routed("10.0.1.2") : routed("10.0.1.1"), second);
        assertEquals(first, route());
    }

    /** A route answer sends nothing: active health checks (run's jsonline listener) must not start probing its addresses. */
    @Test
    void routeDoesNotMakeTheServiceOneThatIsHealthChecked() {
        route();
        route();
        assertEquals(java.util.Set.of(), node.context().health().routedServices());
    }

    @Test
    void routeSkipsAnInstanceWhoseBreakerIsOpen() {
        node.context().breakers().forInstance("service-b", new Endpoint("10.0.1.1", 8080))
                .transitionTo(io.outrigger.resilience.CircuitBreaker.State.OPEN, "test");
        assertEquals(routed("10.0.1.2"), route());
        assertEquals(routed("10.0.1.2"), route());
    }

    @Test
    void healthyAgainComesBack() {
        exchange(ch, "{\"src\":\"c0\",\"dest\":\"n1\",\"body\":{\"type\":\"health\",\"msg_id\":1,\"service\":\"service-b\",\"host\":\"10.0.1.1\",\"port\":8080,\"healthy\":false}}");
        assertEquals(routed("10.0.1.2"), route());
        assertEquals(routed("10.0.1.2"), route());
        exchange(ch, "{\"src\":\"c0\",\"dest\":\"n1\",\"body\":{\"type\":\"health\",\"msg_id\":2,\"service\":\"service-b\",\"host\":\"10.0.1.1\",\"port\":8080,\"healthy\":true}}");
        String a = route();
        String b = route();
        assertFalse(a.equals(b), "both instances are routed to again");
    }

    /**
     * Round robin over the healthy instances, as line-json.md says: with the middle one of three unhealthy, the other
     * two take turns (the turn was once counted over all three, giving the one after the unhealthy instance two turns
     * in three: .1, .3, .3, .1).
     */
    @Test
    void routeTakesTurnsOverTheHealthyInstancesOnly() {
        FileRegistry three = new FileRegistry(java.util.Map.of("svc", java.util.List.of(new Endpoint("10.9.1.1", 80),
                new Endpoint("10.9.1.2", 80), new Endpoint("10.9.1.3", 80))), "test");
        EmbeddedChannel c = JsonLineTesting.channel(new JsonLineNode(new SidecarContext(SidecarConfig.defaults(), three, Ticker.system()), null, 5_000));
        try {
            assertEquals("{\"src\":\"n1\",\"dest\":\"c0\",\"body\":{\"type\":\"health_ok\",\"in_reply_to\":1}}",
                    exchange(c, "{\"src\":\"c0\",\"dest\":\"n1\",\"body\":{\"type\":\"health\",\"msg_id\":1,\"service\":\"svc\",\"host\":\"10.9.1.2\",\"port\":80,\"healthy\":false}}"));
            java.util.List<String> hosts = new java.util.ArrayList<>();
            for (int i = 0; i < 6; i++) {
                String reply = exchange(c, "{\"src\":\"c0\",\"dest\":\"n1\",\"body\":{\"type\":\"route\",\"msg_id\":" + (10 + i) + ",\"service\":\"svc\"}}");
                assertTrue(reply.startsWith("{\"src\":\"n1\",\"dest\":\"c0\",\"body\":{\"type\":\"routed\",\"in_reply_to\":" + (10 + i) + ",\"service\":\"svc\",\"instance\":{\"host\":\""), reply);
                hosts.add(reply.replaceAll(".*\"host\":\"([^\"]*)\".*", "$1"));
            }
            assertEquals(java.util.List.of("10.9.1.1", "10.9.1.3", "10.9.1.1", "10.9.1.3", "10.9.1.1", "10.9.1.3"), hosts);
        } finally {
            assertFalse(c.finishAndReleaseAll());
        }
    }

    private String health(String service, String host, int port) {
        return exchange(ch, "{\"src\":\"c0\",\"dest\":\"n1\",\"body\":{\"type\":\"health\",\"msg_id\":9,\"service\":\"" + service
                + "\",\"host\":\"" + host + "\",\"port\":" + port + ",\"healthy\":false}}");
    }

    /** A service name a client makes up is kept with the instance's state: past a DNS name's 253 characters it is refused. */
    @Test
    void healthReportsNamingAnUnlistedServiceLongerThanADnsNameAreRefused() {
        String refused = health("s".repeat(254), "10.9.0.3", 80);
        assertTrue(refused.contains("\"code\":12") && refused.contains("service: 254 characters (expected: at most 253"), refused);
        assertFalse(node.context().health().isTracked("s".repeat(254), new io.outrigger.discovery.Endpoint("10.9.0.3", 80)));
        assertEquals("{\"src\":\"n1\",\"dest\":\"c0\",\"body\":{\"type\":\"health_ok\",\"in_reply_to\":9}}",
                health("s".repeat(253), "10.9.0.3", 80));
    }

    /** Callers name instances freely: past the limit a report about a new unlisted one is refused with code 12. */
    @Test
    void healthReportsBeyondTheTrackingLimitAreRefusedForUnlistedInstances() {
        String ok = "{\"src\":\"n1\",\"dest\":\"c0\",\"body\":{\"type\":\"health_ok\",\"in_reply_to\":9}}";
        for (int i = node.context().health().trackedCount(); i < HealthHandler.MAX_TRACKED_INSTANCES; i++) {
            assertEquals(ok, health("made-up-" + i, "10.9.0.1", 1 + i));
        }
        String refused = health("one-too-many", "10.9.0.2", 80);
        assertTrue(refused.contains("\"code\":12") && refused.contains("at most 1024 are tracked"), refused);
        assertEquals(ok, health("made-up-3", "10.9.0.1", 4), "an instance already tracked is still reported");
        assertEquals(ok, health("service-b", "10.0.1.1", 8080), "an instance the registry lists is still reported");
        assertEquals(HealthHandler.MAX_TRACKED_INSTANCES + 1, node.context().health().trackedCount());
    }
}

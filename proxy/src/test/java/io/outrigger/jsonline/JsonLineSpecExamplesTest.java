package io.outrigger.jsonline;

import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static io.outrigger.jsonline.JsonLineTesting.assertReply;
import static io.outrigger.jsonline.JsonLineTesting.exchange;
import static io.outrigger.jsonline.JsonLineTesting.readReply;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** Every example of shared/spec/line-json.md, reply compared as the exact line (field order included). */
class JsonLineSpecExamplesTest {
    private final EmbeddedChannel ch = JsonLineTesting.channel(JsonLineTesting.node());

    @AfterEach
    void release() {
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void init() {
        assertEquals("{\"src\":\"n1\",\"dest\":\"c0\",\"body\":{\"type\":\"init_ok\",\"in_reply_to\":1,\"msg_id\":0}}",
                exchange(ch, "{\"src\":\"c0\",\"dest\":\"n1\",\"body\":{\"type\":\"init\",\"msg_id\":1,\"node_id\":\"n1\",\"node_ids\":[\"n1\"]}}"));
    }

    @Test
    void discover() {
        assertEquals("{\"src\":\"registry\",\"dest\":\"sidecar\",\"body\":{\"type\":\"discovered\",\"in_reply_to\":1,\"service\":\"service-b\","
                        + "\"instances\":[{\"host\":\"10.0.1.1\",\"port\":8080},{\"host\":\"10.0.1.2\",\"port\":8080}]}}",
                exchange(ch, "{\"src\":\"sidecar\",\"dest\":\"registry\",\"body\":{\"type\":\"discover\",\"msg_id\":1,\"service\":\"service-b\"}}"));
    }

    @Test
    void discoverUnknownServiceHasNoInstances() {
        assertEquals("{\"src\":\"r\",\"dest\":\"s\",\"body\":{\"type\":\"discovered\",\"in_reply_to\":2,\"service\":\"nope\",\"instances\":[]}}",
                exchange(ch, "{\"src\":\"s\",\"dest\":\"r\",\"body\":{\"type\":\"discover\",\"msg_id\":2,\"service\":\"nope\"}}"));
    }

    @Test
    void plainCallIsProxiedWithAFreshTraceId() {
        String line = "{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":1,\"path\":\"/api/users/123\"},\"proxy\":true}";
        String first = exchange(ch, line);
        assertReply("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"proxied\",\"in_reply_to\":1,"
                + "\"proxied_by\":\"sidecar-a\",\"trace_id\":\"<uuid>\"}}", first);
        assertNotEquals(first, exchange(ch, line), "trace ids are unique per request");
    }

    @Test
    void breakerTripsWithFailureCount() {
        assertEquals("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"circuit_breaker_open\",\"in_reply_to\":1,"
                        + "\"service\":\"service-b\",\"failures\":5}}",
                exchange(ch, "{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":1,\"force_failures\":5}}"));
    }

    @Test
    void breakerTripsWithReason() {
        assertEquals("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"circuit_breaker_open\",\"in_reply_to\":3,"
                        + "\"service\":\"service-b\",\"reason\":\"Too many failures\"}}",
                exchange(ch, "{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":3,\"force_failures\":6,\"circuit_breaker\":true}}"));
    }

    @Test
    void failuresBelowThresholdAreAnUpstreamFailure() {
        assertEquals("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"error\",\"in_reply_to\":7,"
                        + "\"error\":\"Upstream failure\",\"service\":\"service-b\",\"failures\":3}}",
                exchange(ch, "{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":7,\"force_failures\":3}}"));
    }

    @Test
    void failFastWhileOpen() {
        assertEquals("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"error\",\"in_reply_to\":2,"
                        + "\"error\":\"Circuit breaker OPEN\",\"service\":\"service-b\"}}",
                exchange(ch, "{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":2,\"state\":\"open\"}}"));
    }

    @Test
    void halfOpenProbeSucceeds() {
        assertEquals("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"circuit_breaker_closed\",\"in_reply_to\":3,"
                        + "\"service\":\"service-b\",\"state\":\"closed\"}}",
                exchange(ch, "{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":3,\"state\":\"half_open\",\"force_success\":true}}"));
    }

    @Test
    void halfOpenProbeFailsAndReopens() {
        assertEquals("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"circuit_breaker_open\",\"in_reply_to\":3,"
                        + "\"service\":\"service-b\",\"failures\":1}}",
                exchange(ch, "{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":3,\"state\":\"half_open\",\"force_failures\":1}}"));
    }

    @Test
    void retryWithBackoffWaitsOnTheEventLoop() {
        ch.freezeTime();
        assertNull(exchange(ch, "{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":4,\"retries\":3,\"base_ms\":50,\"force_failures\":2}}"));
        ch.advanceTimeBy(49, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertNull(readReply(ch), "the first retry waits 50 ms");
        ch.advanceTimeBy(1, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        ch.advanceTimeBy(99, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertNull(readReply(ch), "the second retry waits 100 ms");
        ch.advanceTimeBy(1, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertReply("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"proxied\",\"in_reply_to\":4,"
                + "\"proxied_by\":\"sidecar-a\",\"trace_id\":\"<uuid>\",\"attempts\":3,\"backoff_ms\":[50,100]}}", readReply(ch));
    }

    @Test
    void healthMarksAnInstanceAndRouteSkipsIt() {
        assertEquals("{\"src\":\"n1\",\"dest\":\"c0\",\"body\":{\"type\":\"health_ok\",\"in_reply_to\":5}}",
                exchange(ch, "{\"src\":\"c0\",\"dest\":\"n1\",\"body\":{\"type\":\"health\",\"msg_id\":5,\"service\":\"service-b\",\"host\":\"10.0.1.1\",\"port\":8080,\"healthy\":false}}"));
        for (int i = 0; i < 3; i++) {
            assertEquals("{\"src\":\"n1\",\"dest\":\"c0\",\"body\":{\"type\":\"routed\",\"in_reply_to\":6,\"service\":\"service-b\",\"instance\":{\"host\":\"10.0.1.2\",\"port\":8080}}}",
                    exchange(ch, "{\"src\":\"c0\",\"dest\":\"n1\",\"body\":{\"type\":\"route\",\"msg_id\":6,\"service\":\"service-b\"}}"));
        }
        exchange(ch, "{\"src\":\"c0\",\"dest\":\"n1\",\"body\":{\"type\":\"health\",\"msg_id\":7,\"service\":\"service-b\",\"host\":\"10.0.1.2\",\"port\":8080,\"healthy\":false}}");
        assertEquals("{\"src\":\"n1\",\"dest\":\"c0\",\"body\":{\"type\":\"error\",\"in_reply_to\":8,\"error\":\"No healthy instance\",\"service\":\"service-b\"}}",
                exchange(ch, "{\"src\":\"c0\",\"dest\":\"n1\",\"body\":{\"type\":\"route\",\"msg_id\":8,\"service\":\"service-b\"}}"));
        assertEquals("{\"src\":\"n1\",\"dest\":\"c0\",\"body\":{\"type\":\"discovered\",\"in_reply_to\":9,\"service\":\"service-b\",\"instances\":[]}}",
                exchange(ch, "{\"src\":\"c0\",\"dest\":\"n1\",\"body\":{\"type\":\"discover\",\"msg_id\":9,\"service\":\"service-b\"}}"));
    }
}

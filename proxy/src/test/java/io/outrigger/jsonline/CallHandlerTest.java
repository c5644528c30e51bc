package io.outrigger.jsonline;

import io.netty.channel.embedded.EmbeddedChannel;
import io.outrigger.SidecarContext;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.Endpoint;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.metrics.ProxyMetrics;
import io.outrigger.resilience.CircuitBreaker;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static io.outrigger.jsonline.JsonLineTesting.assertReply;
import static io.outrigger.jsonline.JsonLineTesting.exchange;
import static io.outrigger.jsonline.JsonLineTesting.readReply;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The call handler's cases beyond the spec's examples: naming, tracing, breaker accounting, retry limits. */
class CallHandlerTest {
    private final AtomicLong nanos = new AtomicLong();
    private final JsonLineNode node = JsonLineTesting.node(nanos::get, null);
    private final EmbeddedChannel ch = JsonLineTesting.channel(node);

    @AfterEach
    void release() {
        assertFalse(ch.finishAndReleaseAll());
    }

    private static String call(String src, String dest, String fields) {
        return "{\"src\":\"" + src + "\",\"dest\":\"" + dest + "\",\"body\":{\"type\":\"call\",\"msg_id\":1" + fields + "}}";
    }

    private CircuitBreaker breaker(String service) {
        return node.context().breakers().forService(service);
    }

    /**
     * Only the failure that opened the breaker answers {@code circuit_breaker_open}. Another caller (a connection
     * on another event loop) may open it between this call's permission and its failure, which then is not
     * counted: on the TCP listener, two of eight concurrent calls could each answer that they opened it. The
     * listener stands in for that other caller.
     */
    @Test
    void aFailureAfterAnotherCallerOpenedTheBreakerDidNotTripIt() {
        CircuitBreaker b = breaker("service-b");
        b.transitionTo(CircuitBreaker.State.OPEN, "test");
        nanos.addAndGet(TimeUnit.MILLISECONDS.toNanos(b.config().openMillis()));
        b.addListener((breaker, from, to, reason) -> {
            if (to == CircuitBreaker.State.HALF_OPEN) {
                breaker.transitionTo(CircuitBreaker.State.OPEN, "another caller's probe failed");
            }
        });
        assertEquals("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"error\",\"in_reply_to\":1,"
                        + "\"error\":\"Upstream failure\",\"service\":\"service-b\",\"failures\":1}}",
                exchange(ch, call("service-a", "service-b", ",\"force_failures\":1")));
    }

    /** Metrics label a service the registry does not know as {@code unknown}: callers name services freely. */
    @Test
    void metricsLabelOnlyServicesTheRegistryKnows() {
        List<String> labels = new java.util.concurrent.CopyOnWriteArrayList<>();
        ProxyMetrics recording = new ProxyMetrics() {
            @Override
            public void onExchange(String edge, String service, Endpoint instance, int status, int attempts, long durationNanos) {
                labels.add(edge + ":" + service);
            }
        };
        JsonLineNode withMetrics = new JsonLineNode(new SidecarContext(SidecarConfig.defaults(), FileRegistry.embedded(), nanos::get, recording),
                null, 5_000);
        EmbeddedChannel c = JsonLineTesting.channel(withMetrics);
        try {
            exchange(c, call("service-a", "service-b", ""));
            exchange(c, call("service-a", "made-up-7", ""));
            assertEquals(List.of("jsonline:service-b", "jsonline:unknown"), labels);
        } finally {
            assertFalse(c.finishAndReleaseAll());
        }
    }

    /** A failed call is counted as the tcp relay counts one (502, or 503 when a breaker refused it), not as a success. */
    @Test
    void aFailedCallIsNotCountedAsASuccess() {
        List<Integer> statuses = new java.util.concurrent.CopyOnWriteArrayList<>();
        ProxyMetrics recording = new ProxyMetrics() {
            @Override
            public void onExchange(String edge, String service, Endpoint instance, int status, int attempts, long durationNanos) {
                statuses.add(status);
            }
        };
        JsonLineNode withMetrics = new JsonLineNode(new SidecarContext(SidecarConfig.defaults(), FileRegistry.embedded(), nanos::get, recording),
                null, 5_000);
        EmbeddedChannel c = JsonLineTesting.channel(withMetrics);
        try {
            exchange(c, call("service-a", "service-b", ""));                         // proxied
            exchange(c, call("service-a", "service-b", ",\"force_failures\":2"));  // Upstream failure
            exchange(c, call("service-a", "service-b", ",\"force_failures\":5"));  // its failures opened the breaker
            exchange(c, call("service-a", "service-b", ""));                         // Circuit breaker OPEN
            assertEquals(List.of(0, 502, 502, 503), statuses);
        } finally {
            assertFalse(c.finishAndReleaseAll());
        }
    }

    /** Each retry made is counted once; back-to-back attempts of a call without {@code retries} are no retries. */
    @Test
    void retriesAreCountedWhenMade() {
        List<String> retries = new java.util.concurrent.CopyOnWriteArrayList<>();
        ProxyMetrics recording = new ProxyMetrics() {
            @Override
            public void onRetry(String edge, String service) {
                retries.add(edge + ":" + service);
            }
        };
        JsonLineNode withMetrics = new JsonLineNode(new SidecarContext(SidecarConfig.defaults(), FileRegistry.embedded(), nanos::get, recording),
                null, 5_000);
        EmbeddedChannel c = JsonLineTesting.channel(withMetrics);
        try {
            exchange(c, call("service-a", "service-b", ",\"force_failures\":2"));
            assertEquals(List.of(), retries);
            c.writeInbound(io.netty.buffer.Unpooled.copiedBuffer(call("service-a", "service-b", ",\"retries\":3,\"base_ms\":0,\"force_failures\":2") + "\n",
                    java.nio.charset.StandardCharsets.UTF_8));
            String reply = readReply(c);
            assertTrue(reply.contains("\"attempts\":3"), reply);
            assertEquals(List.of("jsonline:service-b", "jsonline:service-b"), retries);
        } finally {
            assertFalse(c.finishAndReleaseAll());
        }
    }

    /** Callers name services freely: past the limit a new name is refused with code 12, known ones go on working. */
    @Test
    void newServicesBeyondTheBreakerLimitAreRefused() {
        for (int i = node.context().breakers().all().size(); i < CallHandler.MAX_BREAKERS; i++) {
            breaker("filler-" + i);
        }
        String refused = JsonLineTesting.exchange(ch, call("c", "one-too-many", ""));
        assertTrue(refused.contains("\"code\":12") && refused.contains("at most 1024 services are tracked"), refused);
        String known = JsonLineTesting.exchange(ch, call("c", "filler-1", ""));
        assertTrue(known.contains("\"type\":\"proxied\""), "a known service still answers: " + known);
        assertEquals(CallHandler.MAX_BREAKERS, node.context().breakers().all().size());
    }

    /**
     * A name a client makes up is kept (its breaker) and logged with each of the breaker's changes: up to a line, 1 MiB,
     * long, 1024 of them held a gigabyte and wrote megabyte log lines. Past a DNS name's 253 characters it is refused.
     */
    @Test
    void anUnlistedServiceNameLongerThanADnsNameIsRefused() {
        String longest = "s".repeat(253);
        assertTrue(JsonLineTesting.exchange(ch, call("c", longest, "")).contains("\"type\":\"proxied\""));
        String refused = JsonLineTesting.exchange(ch, call("c", longest + "s", ""));
        assertTrue(refused.contains("\"code\":12") && refused.contains("service: 254 characters (expected: at most 253"), refused);
        assertNull(node.context().breakers().find(longest + "s"), "no breaker was made for it");
    }

    @Test
    void proxiedByNamesTheCallersSidecar() {
        assertReply("{\"src\":\"service-b\",\"dest\":\"frontend\",\"body\":{\"type\":\"proxied\",\"in_reply_to\":1,\"proxied_by\":\"sidecar-frontend\",\"trace_id\":\"<uuid>\"}}",
                exchange(ch, call("frontend", "service-b", "")));
        EmbeddedChannel named = JsonLineTesting.channel(JsonLineTesting.node(nanos::get, "edge-7"));
        assertReply("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"proxied\",\"in_reply_to\":1,\"proxied_by\":\"edge-7\",\"trace_id\":\"<uuid>\"}}",
                exchange(named, call("service-a", "service-b", "")));
        assertFalse(named.finishAndReleaseAll());
    }

    @Test
    void traceIdInTheBodyIsPropagated() {
        assertEquals("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"proxied\",\"in_reply_to\":1,\"proxied_by\":\"sidecar-a\",\"trace_id\":\"t-42\"}}",
                exchange(ch, call("service-a", "service-b", ",\"trace_id\":\"t-42\"")));
    }

    /** {@code service/host:port} keys an instance's breaker: a call may not name, and so force, one. */
    @Test
    void aServiceNameWithASlashIsRefusedAndReachesNoInstanceBreaker() {
        CircuitBreaker instance = node.context().breakers().forInstance("service-b", new Endpoint("10.0.1.1", 8080));
        assertEquals("{\"src\":\"service-b/10.0.1.1:8080\",\"dest\":\"c\",\"body\":{\"type\":\"error\",\"in_reply_to\":1,\"code\":12,"
                        + "\"text\":\"service: service-b/10.0.1.1:8080 (expected: a service name without '/')\"}}",
                exchange(ch, call("c", "service-b/10.0.1.1:8080", ",\"state\":\"open\"")));
        assertEquals(CircuitBreaker.State.CLOSED, instance.state());
        String longName = "a/" + "x".repeat(100_000);
        String text = exchange(ch, call("c", longName, "")).replaceAll(".*\"text\":\"([^\"]*)\".*", "$1");
        assertEquals("service: a/" + "x".repeat(58) + "... (expected: a service name without '/')", text, "the name cut short in the text");
    }

    @Test
    void bodyServiceWinsOverDest() {
        exchange(ch, call("service-a", "service-b", ",\"service\":\"service-c\",\"force_failures\":5"));
        assertEquals(CircuitBreaker.State.OPEN, breaker("service-c").state());
        assertEquals(CircuitBreaker.State.CLOSED, breaker("service-b").state());
    }

    @Test
    void attemptsWhileOpenAreNotCounted() {
        assertEquals("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"circuit_breaker_open\",\"in_reply_to\":1,\"service\":\"service-b\",\"failures\":5}}",
                exchange(ch, call("service-a", "service-b", ",\"force_failures\":9")));
        assertEquals(5, breaker("service-b").consecutiveFailures());
    }

    @Test
    void breakerOpenedEarlierFailsFastAndOpensAgainAfterItsTime() {
        exchange(ch, call("service-a", "service-b", ",\"force_failures\":5"));
        assertEquals("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"error\",\"in_reply_to\":1,\"error\":\"Circuit breaker OPEN\",\"service\":\"service-b\"}}",
                exchange(ch, call("service-a", "service-b", "")));
        nanos.addAndGet(TimeUnit.SECONDS.toNanos(30));
        assertEquals("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"circuit_breaker_closed\",\"in_reply_to\":1,\"service\":\"service-b\",\"state\":\"closed\"}}",
                exchange(ch, call("service-a", "service-b", "")), "the probe after open_ms closes the breaker");
        assertReply("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"proxied\",\"in_reply_to\":1,\"proxied_by\":\"sidecar-a\",\"trace_id\":\"<uuid>\"}}",
                exchange(ch, call("service-a", "service-b", "")));
    }

    @Test
    void failuresAcrossCallsAddUpOnTheSharedBreaker() {
        exchange(ch, call("service-a", "service-b", ",\"force_failures\":3"));
        assertEquals("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"circuit_breaker_open\",\"in_reply_to\":1,\"service\":\"service-b\",\"failures\":2}}",
                exchange(ch, call("service-a", "service-b", ",\"force_failures\":2")));
    }

    @Test
    void stateClosedResetsTheBreaker() {
        exchange(ch, call("service-a", "service-b", ",\"state\":\"open\""));
        assertReply("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"proxied\",\"in_reply_to\":1,\"proxied_by\":\"sidecar-a\",\"trace_id\":\"<uuid>\"}}",
                exchange(ch, call("service-a", "service-b", ",\"state\":\"closed\"")));
    }

    @Test
    void retriesGivenButNothingFailsStillReportsAttempts() {
        assertReply("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"proxied\",\"in_reply_to\":1,\"proxied_by\":\"sidecar-a\",\"trace_id\":\"<uuid>\",\"attempts\":1,\"backoff_ms\":[]}}",
                exchange(ch, call("service-a", "service-b", ",\"retries\":3")));
    }

    @Test
    void retriesExhaustedIsAnUpstreamFailure() {
        ch.freezeTime();
        assertNull(exchange(ch, call("service-a", "service-b", ",\"retries\":2,\"base_ms\":10,\"force_failures\":4")));
        ch.advanceTimeBy(10, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        ch.advanceTimeBy(20, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertEquals("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"error\",\"in_reply_to\":1,\"error\":\"Upstream failure\",\"service\":\"service-b\",\"failures\":3}}",
                readReply(ch));
    }

    @Test
    void noRetryIsWaitedForOnceTheBreakerOpened() {
        ch.freezeTime();
        assertNull(exchange(ch, call("service-a", "service-b", ",\"retries\":10,\"base_ms\":1,\"force_failures\":10")));
        for (long wait = 1; wait <= 8; wait *= 2) {
            ch.advanceTimeBy(wait, TimeUnit.MILLISECONDS);
            ch.runScheduledPendingTasks();
        }
        assertEquals("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"circuit_breaker_open\",\"in_reply_to\":1,\"service\":\"service-b\",\"failures\":5}}",
                readReply(ch), "the fifth failure opens the breaker and ends the call at once");
    }

    @Test
    void defaultBaseIsOneHundredMillis() {
        ch.freezeTime();
        assertNull(exchange(ch, call("service-a", "service-b", ",\"retries\":1,\"force_failures\":1")));
        ch.advanceTimeBy(99, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertNull(readReply(ch));
        ch.advanceTimeBy(1, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertReply("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"proxied\",\"in_reply_to\":1,\"proxied_by\":\"sidecar-a\",\"trace_id\":\"<uuid>\",\"attempts\":2,\"backoff_ms\":[100]}}",
                readReply(ch));
    }
}

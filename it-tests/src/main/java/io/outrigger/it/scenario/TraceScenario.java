package io.outrigger.it.scenario;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.outrigger.it.harness.Http;
import io.outrigger.it.harness.Topology;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Scenario 1: one call from outside into service-a, which calls service-b through its sidecar;
 * the trace started by the caller must be the trace every hop sees.
 *
 * <p>The caller sends {@code traceparent 00-T-S-01} and an {@code x-request-id} to
 * {@code /call/service-b/hello} on sidecar-a's inbound listener. The fake services echo the
 * headers they received, so the answer shows what service-a's app and service-b's app saw.
 */
public final class TraceScenario {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Untraced calls after the traced one, so the summary has latency figures for service-a. */
    private static final int MORE_CALLS = 20;

    private TraceScenario() {
    }

    /** What one application saw of the request: its echoed trace headers. */
    public record Hop(String who, String traceparent, String requestId, String via) {
        /** The trace id field of the traceparent, or empty. */
        public String traceId() {
            String[] parts = traceparent == null ? new String[0] : traceparent.split("-");
            return parts.length == 4 ? parts[1] : "";
        }

        /** The parent (span) id field of the traceparent, or empty. */
        public String spanId() {
            String[] parts = traceparent == null ? new String[0] : traceparent.split("-");
            return parts.length == 4 ? parts[2] : "";
        }
    }

    /**
     * @param status              the status service-a's sidecar answered
     * @param responseTraceparent the traceparent header on that answer
     * @param hops                every application that echoed headers, outermost first
     */
    public record Result(String traceId, String spanId, String requestId, int status, String responseTraceparent,
                         String responseRequestId, List<Hop> hops, String body) {}

    public static Result run(Topology topology, Timeline timeline, Traffic traffic) {
        timeline.section("1. A call from service-a to service-b, one trace across every hop");
        ThreadLocalRandom random = ThreadLocalRandom.current();
        String traceId = String.format(Locale.ROOT, "%016x%016x", random.nextLong(), random.nextLong());
        String spanId = String.format(Locale.ROOT, "%016x", random.nextLong() | 1);
        String requestId = "demo-" + UUID.randomUUID();
        String traceparent = "00-" + traceId + "-" + spanId + "-01";
        timeline.event("caller -> sidecar-a inbound -> service-a -> sidecar-a outbound -> sidecar-b inbound -> service-b");
        timeline.event("caller sends GET /call/service-b/hello with traceparent %s, x-request-id %s", traceparent, requestId);

        Http http = Http.direct();
        Traffic.Outcome out = traffic.call("service-a", () -> http.get(topology.serviceA().resolve("/call/service-b/hello"),
                "traceparent", traceparent, "x-request-id", requestId));
        timeline.event("caller got %s in %d ms", out.describe(), out.latency().toMillis());
        List<Hop> hops = hops(out.body());
        for (Hop hop : hops) {
            timeline.event("  %-28s saw traceparent %s (trace %s) x-request-id %s%s", hop.who(), hop.traceparent(),
                    hop.traceId().equals(traceId) ? "same" : "DIFFERENT", hop.requestId(),
                    hop.via() == null ? "" : ", via " + hop.via());
        }
        String responseTraceparent = out.header("traceparent").orElse("");
        timeline.event("  %-28s traceparent %s", "answer to the caller", responseTraceparent);

        int ok = 0;
        for (int i = 0; i < MORE_CALLS; i++) {
            ok += traffic.call("service-a", () -> http.get(topology.serviceA().resolve("/call/service-b/hello"))).ok() ? 1 : 0;
        }
        timeline.event("%d more calls caller -> service-a -> service-b: %d answered 200", MORE_CALLS, ok);
        return new Result(traceId, spanId, requestId, out.status(), responseTraceparent,
                out.header("x-request-id").orElse(""), hops, out.body());
    }

    /**
     * Every object in the answer that carries an echoed {@code headers} object, outermost first:
     * service-a's own view, the answer its sidecar gave it, and service-b's view nested in that
     * answer (as an object or as a JSON string).
     */
    static List<Hop> hops(String body) {
        List<Hop> hops = new ArrayList<>();
        try {
            collect(JSON.readTree(body), hops);
        } catch (IOException e) {
            // not JSON (an error page): no hop to report; the status tells the rest
        }
        return hops;
    }

    private static void collect(JsonNode node, List<Hop> hops) throws IOException {
        if (node == null) {
            return;
        }
        if (node.isTextual() && node.asText().trim().startsWith("{")) {
            collect(JSON.readTree(node.asText()), hops);
            return;
        }
        if (node.isObject() && node.path("headers").isObject()) {
            JsonNode h = node.get("headers");
            String who = node.has("service") ? node.path("service").asText() + " app (" + node.path("instance").asText("?") + ")"
                    : "answer to service-a (" + node.path("status").asText("?") + ")";
            hops.add(new Hop(who, header(h, "traceparent").orElse(null), header(h, "x-request-id").orElse(null),
                    header(h, "via").orElse(null)));
        }
        if (node.isContainerNode()) {
            for (JsonNode child : node) {
                collect(child, hops);
            }
        }
    }

    private static Optional<String> header(JsonNode headers, String name) {
        for (Map.Entry<String, JsonNode> e : headers.properties()) {
            if (e.getKey().equalsIgnoreCase(name)) {
                JsonNode v = e.getValue();
                return Optional.of(v.isArray() ? v.path(0).asText() : v.asText());
            }
        }
        return Optional.empty();
    }
}

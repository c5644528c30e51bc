package io.outrigger.admin;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonValue;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import io.outrigger.Sidecar;
import io.outrigger.SidecarContext;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.Endpoint;
import io.outrigger.discovery.HealthTracker;
import io.outrigger.resilience.CircuitBreaker;
import io.outrigger.resilience.CircuitBreakers;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The JSON bodies of the admin paths, built with Jackson.
 *
 * <p>{@code /config} serializes the {@link SidecarConfig} records with the YAML file's key names
 * ({@code bindAddress -> bind_address}, {@code openMillis -> open_ms}, an endpoint as
 * {@code host:port}, {@code jitter: full|none}), so what it shows can be pasted back into a
 * config file. Thread-safe: reads only thread-safe state.
 */
final class AdminViews {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ObjectMapper CONFIG_JSON = configMapper();

    private final Sidecar sidecar;

    AdminViews(Sidecar sidecar) {
        this.sidecar = sidecar;
    }

    static String error(String message) {
        return write(JSON.createObjectNode().put("error", message));
    }

    String ready(Sidecar.State state) {
        return write(JSON.createObjectNode().put("state", state.name().toLowerCase(Locale.ROOT)));
    }

    /**
     * Each service of the registry with its breaker, and its instances with health and breaker; with an
     * inbound listener, also the local app and its breakers.
     */
    String clusters() {
        SidecarContext ctx = sidecar.context();
        ObjectNode services = JSON.createObjectNode();
        for (String service : ctx.registry().services()) {
            ObjectNode s = services.putObject(service);
            s.set("breaker", breaker(ctx, ctx.breakers().find(service)));
            ArrayNode instances = s.putArray("instances");
            for (Endpoint e : ctx.registry().endpoints(service)) {
                HealthTracker.Health h = ctx.health().health(service, e);
                ObjectNode i = instances.addObject()
                        .put("address", e.toString())
                        .put("healthy", h.healthy())
                        .put("health_reason", h.reason());
                i.set("breaker", breaker(ctx, ctx.breakers().find(CircuitBreakers.instanceKey(service, e))));
            }
            for (Map.Entry<Endpoint, String> w : ctx.registry().withheld(service).entrySet()) {
                ObjectNode i = instances.addObject()
                        .put("address", w.getKey().toString())
                        .put("healthy", false)
                        .put("health_reason", w.getValue());
                i.set("breaker", breaker(ctx, ctx.breakers().find(CircuitBreakers.instanceKey(service, w.getKey()))));
            }
        }
        // An outage shows here too, not only in a log line: what follows is then the last known state.
        ObjectNode root = JSON.createObjectNode().put("registry", ctx.registry().describe())
                .put("registry_stale", ctx.registry().stale());
        root.set("services", services);
        SidecarConfig.Inbound inbound = ctx.config().listeners().inbound();
        if (inbound != null) {
            // The local app is no registry instance, but the inbound listener keeps a breaker for it all the same
            // (its only one: the service's own breaker, listed above, judges the service's instances, not this app).
            String service = ctx.config().service();
            ObjectNode in = root.putObject("inbound").put("service", service).put("app", inbound.app().toString());
            in.set("app_breaker", breaker(ctx, ctx.breakers().find(CircuitBreakers.instanceKey(service, inbound.app()))));
        }
        return write(root);
    }

    /** A breaker that was never used reads as closed, without creating it. */
    private static ObjectNode breaker(SidecarContext ctx, CircuitBreaker breaker) {
        ObjectNode b = JSON.createObjectNode();
        if (breaker == null) {
            return b.put("state", CircuitBreaker.State.CLOSED.wireName()).put("reason", "no calls yet").put("consecutive_failures", 0);
        }
        CircuitBreaker.Snapshot s = breaker.snapshot();
        // An open breaker turns half-open only when a call asks: until then it says why it still reads open.
        String reason = s.state() == CircuitBreaker.State.OPEN && breaker.isCallPermitted()
                ? s.reason() + "; open_ms elapsed, the next call probes" : s.reason();
        return b.put("state", s.state().wireName())
                .put("reason", reason)
                .put("consecutive_failures", s.consecutiveFailures())
                .put("for_ms", TimeUnit.NANOSECONDS.toMillis(ctx.ticker().nanos() - s.sinceNanos()));
    }

    /**
     * The effective config with YAML key names ({@code max_connections} as in force, when derived from the open-files
     * limit; {@code io_threads} as in force, when Netty's default chose them), plus {@code bound_ports} (listener name to port).
     */
    String config() {
        ObjectNode root = CONFIG_JSON.valueToTree(sidecar.context().config());
        root.put("max_connections", sidecar.connections().maxConnections()); // 0 stands for one derived at start: show that one
        root.put("io_threads", sidecar.ioThreads()); // likewise: 0 stands for Netty's default, chosen at start
        root.set("bound_ports", CONFIG_JSON.valueToTree(new TreeMap<>(sidecar.boundPorts())));
        return write(root);
    }

    private static String write(Object node) {
        try {
            return JSON.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static ObjectMapper configMapper() {
        SimpleModule yamlShapes = new SimpleModule("outrigger-config")
                .setMixInAnnotation(Endpoint.class, EndpointAsHostPort.class)
                .addSerializer(SidecarConfig.Retry.class, new RetrySerializer());
        return new ObjectMapper()
                .setPropertyNamingStrategy(new YamlKeyNames())
                .setDefaultPropertyInclusion(JsonInclude.Include.NON_NULL)
                .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
                .registerModule(yamlShapes);
    }

    /** snake_case with the config file's {@code _ms} suffix for {@code ...Millis} components. */
    private static final class YamlKeyNames extends PropertyNamingStrategies.NamingBase {
        private static final long serialVersionUID = 1L;
        private final PropertyNamingStrategies.NamingBase snake = new PropertyNamingStrategies.SnakeCaseStrategy();

        @Override
        public String translate(String name) {
            String s = snake.translate(name);
            return s.endsWith("_millis") ? s.substring(0, s.length() - "_millis".length()) + "_ms" : s;
        }
    }

    /** Writes an endpoint as the config file does: {@code "127.0.0.1:8080"}. */
    private abstract static class EndpointAsHostPort {
        @JsonValue
        @Override
        public abstract String toString();
    }

    /** Writes {@code jitter: full|none} where the record holds a boolean. */
    private static final class RetrySerializer extends StdSerializer<SidecarConfig.Retry> {
        private static final long serialVersionUID = 1L;

        RetrySerializer() {
            super(SidecarConfig.Retry.class);
        }

        @Override
        public void serialize(SidecarConfig.Retry r, JsonGenerator g, SerializerProvider provider) throws IOException {
            g.writeStartObject();
            g.writeNumberField("max_retries", r.maxRetries());
            g.writeNumberField("base_ms", r.baseMillis());
            g.writeNumberField("max_ms", r.maxMillis());
            g.writeStringField("jitter", r.fullJitter() ? "full" : "none");
            g.writeNumberField("budget_percent", r.budgetPercent());
            g.writeEndObject();
        }
    }
}

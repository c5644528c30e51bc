package io.outrigger.it.scenario;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.outrigger.it.harness.Http;

import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a sidecar's admin listener: breaker states from {@code GET /clusters} and counters from
 * {@code GET /metrics} (Prometheus text). Thread-safe.
 */
public final class SidecarAdmin {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{(.*)})?\\s+(\\S+)");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");

    private final URI admin;
    private final Http http = Http.direct();

    public SidecarAdmin(URI admin) {
        this.admin = admin;
    }

    /** A breaker as {@code /clusters} shows it. */
    public record Breaker(String state, String reason) {}

    /** One Prometheus sample. */
    public record MetricSample(String name, Map<String, String> labels, double value) {}

    /** The {@code /clusters} document. */
    public JsonNode clusters() throws IOException {
        Http.Response r = http.get(admin.resolve("/clusters"));
        if (!r.ok()) {
            throw new IOException("GET /clusters: HTTP " + r.status());
        }
        return JSON.readTree(r.body());
    }

    /** The service-level breaker of {@code service}, if the service is listed. */
    public Optional<Breaker> serviceBreaker(String service) throws IOException {
        JsonNode b = clusters().path("services").path(service).path("breaker");
        return b.isObject() ? Optional.of(new Breaker(b.path("state").asText(), b.path("reason").asText())) : Optional.empty();
    }

    /** Each instance of {@code service} (its address) with its breaker. */
    public Map<String, Breaker> instanceBreakers(String service) throws IOException {
        Map<String, Breaker> out = new LinkedHashMap<>();
        for (JsonNode i : clusters().path("services").path(service).path("instances")) {
            JsonNode b = i.path("breaker");
            out.put(i.path("address").asText(), new Breaker(b.path("state").asText(), b.path("reason").asText()));
        }
        return out;
    }

    /** Every sample of {@code GET /metrics}. */
    public List<MetricSample> metrics() throws IOException {
        Http.Response r = http.get(admin.resolve("/metrics"));
        if (!r.ok()) {
            throw new IOException("GET /metrics: HTTP " + r.status());
        }
        List<MetricSample> out = new ArrayList<>();
        for (String line : r.body().split("\n")) {
            Matcher m = SAMPLE.matcher(line);
            if (line.startsWith("#") || !m.find()) {
                continue;
            }
            Map<String, String> labels = new LinkedHashMap<>();
            if (m.group(2) != null) {
                Matcher l = LABEL.matcher(m.group(2));
                while (l.find()) {
                    labels.put(l.group(1), l.group(2));
                }
            }
            try {
                out.add(new MetricSample(m.group(1), labels, Double.parseDouble(m.group(3))));
            } catch (NumberFormatException e) {
                // a value this parser does not know (none in Prometheus text today): not a sample we use
            }
        }
        return out;
    }

    /**
     * Breaker transitions of {@code service} counted by the sidecar, as
     * {@code "<breaker> from->to" -> count}; the breaker is the service ({@code service-b}) or one
     * instance ({@code service-b @ 127.0.0.1:15006}).
     */
    public Map<String, Integer> breakerTransitions(String service) throws IOException {
        Map<String, Integer> out = new TreeMap<>();
        for (MetricSample s : metrics()) {
            if (s.name().equals("outrigger_breaker_transitions_total") && service.equals(s.labels().get("service")) && s.value() > 0) {
                String instance = s.labels().getOrDefault("instance", "");
                String who = instance.isEmpty() || instance.equals("none") || instance.equals(service) ? service : service + " @ " + instance;
                String key = who + " " + s.labels().get("from") + "->" + s.labels().get("to");
                out.merge(key, (int) s.value(), Integer::sum);
            }
        }
        return out;
    }

    /** The sum of one counter's samples whose labels include {@code service}. */
    public double counter(String name, String service) throws IOException {
        return metrics().stream()
                .filter(s -> s.name().equals(name) && service.equals(s.labels().get("service")))
                .mapToDouble(MetricSample::value).sum();
    }
}

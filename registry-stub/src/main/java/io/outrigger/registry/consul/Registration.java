package io.outrigger.registry.consul;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpRequest;
import java.util.Map;

/**
 * A validated {@code PUT /v1/agent/service/register} body:
 * <pre>{"ID": "b-1", "Name": "service-b", "Address": "127.0.0.1", "Port": 9001,
 *  "Check": {"HTTP": "http://127.0.0.1:9001/health", "Interval": "1s", "Timeout": "1s",
 *            "DeregisterCriticalServiceAfter": "1m"}}</pre>
 * A check duration is a Go duration string or, as Consul also takes it, a number of nanoseconds.
 * Field names match case-insensitively, as Consul's do, and each may be given once; other fields (Tags, Meta ...)
 * are ignored. Nothing may follow the object.
 * {@code ID} defaults to {@code Name}, also when empty; {@code Interval} is at least 50 ms (a shorter one is raised,
 * and logged);
 * {@code Timeout} defaults to 10s (also when 0), and is not capped at the interval, as in Consul since 1.6.
 */
public record Registration(String id, String name, String address, int port, HttpCheck check) {
    /** Strict: data after the object and a key given twice are errors, not silently dropped or overwritten. */
    /** The shortest check interval; a shorter one is raised to it. */
    public static final long MIN_CHECK_INTERVAL_MILLIS = 50;
    /** The check timeout when none (or 0) is given: Consul's 10s. */
    public static final long DEFAULT_CHECK_TIMEOUT_MILLIS = 10_000;
    private static final Logger log = LoggerFactory.getLogger(Registration.class);
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    /** A body that cannot be registered; the message is the reason for the 400 answer. */
    public static final class Invalid extends Exception {
        private static final long serialVersionUID = 1L;

        Invalid(String message) {
            super(message, null, false, false);
        }
    }

    /** Parses and validates a body; nothing is registered unless every field is right. */
    public static Registration parse(String body) throws Invalid {
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (JsonProcessingException e) {
            // The original message may still name the start marker's location, as "[Source: REDACTED (...); line: 1,
            // column: 1]": that part says nothing the line and column after it do not.
            String what = String.valueOf(e.getOriginalMessage()).replaceAll("\\s*\\(start marker at \\[Source:[^\\]]*\\]\\)", "");
            JsonLocation at = e.getLocation();
            throw new Invalid("request body is not valid JSON: " + what
                    + (at == null ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")"));
        }
        if (root == null || !root.isObject()) {
            throw new Invalid("request body: expected a JSON object");
        }
        String name = text(root, "Name", true);
        // As Consul: an empty ID is none given (a Go struct cannot tell them apart), so it defaults to Name too.
        JsonNode idNode = field(root, "ID");
        String id = idNode != null && idNode.isTextual() && idNode.asText().isEmpty() ? null : text(root, "ID", false);
        if (id == null) {
            id = name;
        }
        requireId("ID", id);
        String address = text(root, "Address", true);
        JsonNode port = field(root, "Port");
        if (port == null || !port.isIntegralNumber() || port.asLong() < 1 || port.asLong() > 65535) {
            throw new Invalid("Port: " + (port == null ? "missing" : port.toString()) + " (expected: an integer 1..65535)");
        }
        HttpCheck check = null;
        JsonNode c = field(root, "Check");
        if (c != null && !c.isNull()) {
            check = check(c);
        }
        return new Registration(id, name, address, port.asInt(), check);
    }

    private static HttpCheck check(JsonNode c) throws Invalid {
        if (!c.isObject()) {
            throw new Invalid("Check: " + c + " (expected: an object with HTTP and Interval)");
        }
        String http = text(c, "HTTP", true, "Check.HTTP");
        URI url = checkUrl("Check.HTTP", http);
        long interval = duration(c, "Interval", null);
        if (interval <= 0) {
            throw new Invalid("Check.Interval: " + field(c, "Interval") + " (expected: a duration > 0)");
        }
        if (interval < MIN_CHECK_INTERVAL_MILLIS) {
            // As Consul does with its own minimum: a check every millisecond would keep a core busy.
            log.info("Check.Interval {} of {} raised to the minimum, {} ms", field(c, "Interval"), http,
                    MIN_CHECK_INTERVAL_MILLIS);
            interval = MIN_CHECK_INTERVAL_MILLIS;
        }
        // As Consul's HTTP check since 1.6: the Timeout given, or 10s when none (or 0 or below) is; not capped at the interval
        // (the next check starts an interval after the last one ended, so checks never overlap).
        long asked = duration(c, "Timeout", 0L);
        long timeout = asked > 0 ? asked : DEFAULT_CHECK_TIMEOUT_MILLIS;
        // As Consul: a DeregisterCriticalServiceAfter of 0 or below is none (the instance is never removed).
        long deregister = Math.max(0, duration(c, "DeregisterCriticalServiceAfter", 0L));
        return new HttpCheck(url, interval, timeout, deregister);
    }

    /** An instance id: not blank and without '/' (it is a path segment of deregister). */
    public static void requireId(String key, String id) throws Invalid {
        if (id.contains("/") || id.isBlank()) {
            throw new Invalid(key + ": \"" + id + "\" (expected: a non-blank id without '/')");
        }
    }

    /** A check URL: {@code http://HOST[:PORT]/...} that the check runner's HTTP client takes. */
    public static URI checkUrl(String key, String http) throws Invalid {
        URI url;
        try {
            url = new URI(http);
        } catch (URISyntaxException e) {
            throw new Invalid(key + ": \"" + http + "\" (expected: an http:// URL)");
        }
        if (!"http".equalsIgnoreCase(url.getScheme()) || url.getHost() == null) {
            throw new Invalid(key + ": \"" + http + "\" (expected: an http:// URL)");
        }
        if (url.getPort() == 0 || url.getPort() > 65535) {
            throw new Invalid(key + ": \"" + http + "\" (expected: a port 1..65535)");
        }
        try {
            HttpRequest.newBuilder(url);
        } catch (IllegalArgumentException e) {
            throw new Invalid(key + ": \"" + http + "\" (" + e.getMessage() + ")");
        }
        return url;
    }

    /**
     * A check duration in milliseconds: a Go duration string, or, as Consul's CheckType decoding takes one, a number of
     * nanoseconds (sub-millisecond parts round away from zero).
     */
    private static long duration(JsonNode parent, String name, Long dflt) throws Invalid {
        String key = "Check." + name;
        JsonNode n = field(parent, name);
        if (n != null && n.isNumber()) {
            double nanos = n.asDouble();
            if (!(Math.abs(nanos) <= Long.MAX_VALUE / 2.0)) {
                throw new Invalid(key + ": " + n + " (expected: a shorter duration)");
            }
            long millis = (long) Math.ceil(Math.abs(nanos) / 1_000_000.0);
            return nanos < 0 ? -millis : millis;
        }
        String text = text(parent, name, dflt == null, key);
        if (text == null) {
            return dflt;
        }
        try {
            return Durations.parseMillis(text);
        } catch (IllegalArgumentException e) {
            throw new Invalid(key + ": " + e.getMessage());
        }
    }

    private static String text(JsonNode parent, String name, boolean required) throws Invalid {
        return text(parent, name, required, name);
    }

    private static String text(JsonNode parent, String name, boolean required, String key) throws Invalid {
        JsonNode n = field(parent, name);
        if (n == null || n.isNull()) {
            if (required) {
                throw new Invalid(key + ": missing (expected: a non-empty string)");
            }
            return null;
        }
        if (!n.isTextual() || n.asText().isBlank()) {
            throw new Invalid(key + ": " + n + " (expected: a non-empty string)");
        }
        return n.asText();
    }

    private static JsonNode field(JsonNode parent, String name) throws Invalid {
        JsonNode found = null;
        for (Map.Entry<String, JsonNode> e : parent.properties()) {
            if (e.getKey().equalsIgnoreCase(name)) {
                if (found != null) {
                    throw new Invalid(name + ": given more than once (field names match case-insensitively)");
                }
                found = e.getValue();
            }
        }
        return found;
    }
}

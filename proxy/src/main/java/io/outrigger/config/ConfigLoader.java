package io.outrigger.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.outrigger.discovery.Endpoint;
import io.outrigger.resilience.CircuitBreakerConfig;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads the YAML sidecar configuration, fills in defaults and validates every key.
 *
 * <p>Unknown keys are errors (a typo must not silently fall back to a default). Messages name
 * the key path, the value and the expectation.
 */
public final class ConfigLoader {
    /** The longest drain: an hour, well past any orchestrator's grace period. */
    static final long MAX_DRAIN_MS = 3_600_000;
    /** The shortest active-check interval, the registry stub's floor too. */
    static final long MIN_CHECK_INTERVAL_MS = 50;
    /** The largest config file read: far above any real one, and the YAML parser stops at 3 Mi code points anyway. */
    static final int MAX_FILE_BYTES = 16 << 20;
    /** An origin-form request target (RFC 3986 path and query characters, escapes as %XX): what a check sends. */
    private static final Pattern HEALTH_PATH = Pattern.compile("/([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*");
    private final String source;

    private ConfigLoader(String source) {
        this.source = source;
    }

    /** Loads and validates a YAML file. */
    public static SidecarConfig load(Path file) throws ConfigException {
        String text;
        if (file.toString().isEmpty()) {
            throw new ConfigException("--config: an empty path (expected: a YAML file)");
        }
        if (Files.isDirectory(file)) {
            throw new ConfigException(file + ": a directory (expected: a YAML file)");
        }
        try (InputStream in = Files.newInputStream(file)) {
            // Bounded: /dev/zero, or a huge file named by mistake, would otherwise end in an OutOfMemoryError.
            byte[] bytes = in.readNBytes(MAX_FILE_BYTES + 1);
            if (bytes.length > MAX_FILE_BYTES) {
                throw new ConfigException(file + ": larger than " + (MAX_FILE_BYTES >> 20) + " MiB (expected: a YAML config file)");
            }
            text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
        } catch (NoSuchFileException e) {
            throw new ConfigException(file + ": file not found");
        } catch (AccessDeniedException e) {
            throw new ConfigException(file + ": permission denied"); // the JDK's message is the path alone
        } catch (CharacterCodingException e) {
            throw new ConfigException(file + ": not UTF-8 text (expected: a YAML file in UTF-8)");
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read (" + e.getMessage() + ")");
        }
        return parse(text, file.toString());
    }

    /**
     * The YAML parser's message on one line: it quotes the offending lines with a caret under
     * them, indented; the words are kept ("while parsing a block mapping at line 4, column 1;
     * expected <block end>, but found ..."), the picture is dropped.
     */
    static String oneLine(String message) {
        if (message == null) {
            return "no detail";
        }
        StringBuilder out = new StringBuilder();
        for (String line : message.split("\\R")) {
            if (line.startsWith("  ") || line.isBlank()) {
                continue; // a quoted line of the file, or the caret under it
            }
            String words = line.strip().replace("in 'reader', ", "at ");
            if (words.endsWith(":")) {
                words = words.substring(0, words.length() - 1);
            }
            if (out.length() > 0) {
                out.append(words.startsWith("at ") ? " " : "; ");
            }
            out.append(words);
        }
        return out.length() == 0 ? message.strip().replaceAll("\\s+", " ") : out.toString();
    }

    /**
     * The line a YAML error is about: where the construct it names began (an unclosed bracket or quote), else where the
     * parser found the mistake. Jackson's own location is its last good token, which may be lines above (a tab
     * after blank lines). A block mapping or sequence is no such construct: it began where its block did (line 1 for
     * the document's), while the mistake is the line that does not fit in it (a wrong indentation).
     */
    private static int errorLine(JsonProcessingException e) {
        if (e.getCause() instanceof MarkedYAMLException m) {
            boolean block = m.getContext() != null && m.getContext().startsWith("while parsing a block");
            Mark mark = m.getContextMark() != null && !block ? m.getContextMark() : m.getProblemMark();
            if (mark != null) {
                return mark.getLine() + 1;
            }
        }
        return e.getLocation() == null ? 0 : e.getLocation().getLineNr();
    }

    /** Parses and validates YAML text; {@code source} names it in messages. */
    public static SidecarConfig parse(String yaml, String source) throws ConfigException {
        JsonNode root;
        // Strict about duplicate keys: with two "name:" lines the YAML parser would silently keep the last.
        ObjectMapper mapper = new ObjectMapper(YAMLFactory.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build());
        try (JsonParser parser = mapper.createParser(yaml)) {
            root = mapper.readTree(parser);
            for (JsonToken t = parser.nextToken(); t != null; t = parser.nextToken()) {
                // An empty document (a trailing ---) holds nothing to lose; the parser reads it as null or "".
                if (t != JsonToken.VALUE_NULL && !(t == JsonToken.VALUE_STRING && parser.getText().isEmpty())) {
                    throw new ConfigException(source + ": more than one YAML document (expected: one; the sidecar would read only the first)");
                }
            }
        } catch (JsonProcessingException e) {
            int line = errorLine(e);
            String where = line > 0 ? " at line " + line : "";
            throw new ConfigException(source + ": not valid YAML" + where + " (" + oneLine(e.getOriginalMessage()) + ")");
        } catch (IOException e) { // a String source: only the parser's own close could fail
            throw new ConfigException(source + ": cannot read (" + e.getMessage() + ")");
        }
        if (root == null || root.isMissingNode() || root.isNull()) {
            root = MissingNode.getInstance();
        } else if (!root.isObject()) {
            throw new ConfigException(source + ": the document is " + root.getNodeType().name().toLowerCase(Locale.ROOT) + " (expected: a mapping of keys)");
        }
        return new ConfigLoader(source).read(root);
    }

    private SidecarConfig read(JsonNode root) throws ConfigException {
        SidecarConfig d = SidecarConfig.defaults();
        allowOnly(root, "", "name", "service", "registry", "bind_address", "listeners", "resilience", "http", "health", "drain_ms", "io_threads", "max_connections");

        JsonNode l = object(root, "listeners");
        allowOnly(l, "listeners.", "admin", "outbound", "inbound", "jsonline", "tcp");
        SidecarConfig.Port admin = port(l, "listeners.admin", 15000);
        SidecarConfig.Port outbound = port(l, "listeners.outbound", 15001);
        SidecarConfig.JsonLine jsonline = null;
        JsonNode jl = listener(l, "listeners.jsonline", 15020, "port", "idle_timeout_ms");
        if (jl != null) {
            jsonline = new SidecarConfig.JsonLine(intIn(jl, "listeners.jsonline.port", "port", 15020, 0, 65535),
                    longIn(jl, "listeners.jsonline.idle_timeout_ms", "idle_timeout_ms", 60_000, 0, Long.MAX_VALUE)); // 0 = never
        }
        SidecarConfig.Inbound inbound = null;
        JsonNode in = listener(l, "listeners.inbound", 15006, "port", "app");
        if (in != null) {
            inbound = new SidecarConfig.Inbound(intIn(in, "listeners.inbound.port", "port", 15006, 0, 65535),
                    endpoint(in, "listeners.inbound.app", "127.0.0.1:8080"));
        }
        List<SidecarConfig.Tcp> tcp = new ArrayList<>();
        JsonNode tcpNode = l.path("tcp");
        if (!tcpNode.isMissingNode() && !tcpNode.isNull()) {
            if (!tcpNode.isArray()) {
                throw error("listeners.tcp", tcpNode, "a list of {port, service}");
            }
            for (int i = 0; i < tcpNode.size(); i++) {
                JsonNode t = tcpNode.get(i);
                String key = "listeners.tcp[" + i + "]";
                requireObject(t, key);
                allowOnly(t, key + ".", "port", "service", "idle_timeout_ms");
                SidecarConfig.Tcp entry = new SidecarConfig.Tcp(intIn(t, key + ".port", "port", -1, 0, 65535),
                        serviceName(t, key + ".service", requiredText(t, key + ".service", "service")),
                        longIn(t, key + ".idle_timeout_ms", "idle_timeout_ms", 300_000, 0, Long.MAX_VALUE)); // 0 = none
                // A port-0 listener is known by its service (tcp:<service>): a second one could be neither shown nor drained.
                for (int j = 0; j < i; j++) {
                    if (entry.port() == 0 && tcp.get(j).port() == 0 && tcp.get(j).service().equals(entry.service())) {
                        throw error(key + ".port", t.get("port"), "a port other than 0: listeners.tcp[" + j
                                + "] already relays " + entry.service() + " on port 0");
                    }
                }
                tcp.add(entry);
            }
        }

        JsonNode res = object(root, "resilience");
        allowOnly(res, "resilience.", "breaker", "retry", "timeouts");
        JsonNode br = object(res, "breaker", "resilience.breaker");
        allowOnly(br, "resilience.breaker.", "failure_threshold", "open_ms", "half_open_probes");
        CircuitBreakerConfig db = d.resilience().breaker();
        CircuitBreakerConfig breaker = new CircuitBreakerConfig(
                intIn(br, "resilience.breaker.failure_threshold", "failure_threshold", db.failureThreshold(), 1, Integer.MAX_VALUE),
                // At least 1: with 0 the half-open rule that re-grants unanswered probes after open_ms would let every call through.
                longIn(br, "resilience.breaker.open_ms", "open_ms", db.openMillis(), 1, Long.MAX_VALUE),
                intIn(br, "resilience.breaker.half_open_probes", "half_open_probes", db.halfOpenProbes(), 1, Integer.MAX_VALUE));
        JsonNode rt = object(res, "retry", "resilience.retry");
        allowOnly(rt, "resilience.retry.", "max_retries", "base_ms", "max_ms", "jitter", "budget_percent");
        SidecarConfig.Retry dr = d.resilience().retry();
        long baseMs = longIn(rt, "resilience.retry.base_ms", "base_ms", dr.baseMillis(), 0, Long.MAX_VALUE);
        long maxMs = longIn(rt, "resilience.retry.max_ms", "max_ms", Math.max(dr.maxMillis(), baseMs), baseMs, Long.MAX_VALUE);
        String jitter = textIn(rt, "resilience.retry.jitter", "jitter", "full", Set.of("full", "none"));
        SidecarConfig.Retry retry = new SidecarConfig.Retry(
                intIn(rt, "resilience.retry.max_retries", "max_retries", dr.maxRetries(), 0, 100),
                baseMs, maxMs, "full".equals(jitter),
                intIn(rt, "resilience.retry.budget_percent", "budget_percent", dr.budgetPercent(), 0, 100));
        JsonNode to = object(res, "timeouts", "resilience.timeouts");
        allowOnly(to, "resilience.timeouts.", "connect_ms", "request_ms", "read_ms");
        SidecarConfig.Timeouts timeouts = new SidecarConfig.Timeouts(
                longIn(to, "resilience.timeouts.connect_ms", "connect_ms", d.resilience().timeouts().connectMillis(), 1, Integer.MAX_VALUE),
                longIn(to, "resilience.timeouts.request_ms", "request_ms", d.resilience().timeouts().requestMillis(), 1, Long.MAX_VALUE),
                longIn(to, "resilience.timeouts.read_ms", "read_ms", d.resilience().timeouts().readMillis(), 0, Integer.MAX_VALUE));

        JsonNode h = object(root, "http");
        allowOnly(h, "http.", "max_header_bytes", "header_timeout_ms", "retry_buffer_bytes", "max_body_bytes", "idle_timeout_ms", "pool_max_idle",
                "access_log");
        SidecarConfig.Http dh = d.http();
        SidecarConfig.Http http = new SidecarConfig.Http(
                intIn(h, "http.max_header_bytes", "max_header_bytes", dh.maxHeaderBytes(), 1024, 1 << 20),
                longIn(h, "http.header_timeout_ms", "header_timeout_ms", dh.headerTimeoutMillis(), 1, Long.MAX_VALUE),
                intIn(h, "http.retry_buffer_bytes", "retry_buffer_bytes", dh.retryBufferBytes(), 0, 64 << 20),
                longIn(h, "http.max_body_bytes", "max_body_bytes", dh.maxBodyBytes(), 0, Long.MAX_VALUE),
                longIn(h, "http.idle_timeout_ms", "idle_timeout_ms", dh.idleTimeoutMillis(), 1, Long.MAX_VALUE),
                intIn(h, "http.pool_max_idle", "pool_max_idle", dh.poolMaxIdle(), 0, 10_000),
                boolIn(h, "http.access_log", "access_log", dh.accessLog()));

        JsonNode hc = object(root, "health");
        allowOnly(hc, "health.", "interval_ms", "path", "unhealthy_after", "healthy_after", "timeout_ms",
                "eject_after_failures", "ejection_ms", "max_ejection_ms", "max_ejected_percent");
        SidecarConfig.Health dhc = d.health();
        String path = textIn(hc, "health.path", "path", dhc.path(), null);
        if (!HEALTH_PATH.matcher(path).matches()) {
            // Sent as is in the check's request line: a space or a control character there makes every
            // instance answer 400, and active checks would take them all out.
            throw error("health.path", hc.get("path"), "a path starting with /, of URI characters only (no spaces)");
        }
        long ejectionMs = longIn(hc, "health.ejection_ms", "ejection_ms", dhc.ejectionMillis(), 1, Long.MAX_VALUE);
        long intervalMs = longIn(hc, "health.interval_ms", "interval_ms", dhc.intervalMillis(), 0, Long.MAX_VALUE);
        if (intervalMs > 0 && intervalMs < MIN_CHECK_INTERVAL_MS) {
            // A check every millisecond, each on a new connection, floods the instances and leaves hundreds of
            // sockets a second in TIME_WAIT; its timeout, capped at the interval, would make every check fail.
            throw error("health.interval_ms", hc.get("interval_ms"), "0 (off) or at least " + MIN_CHECK_INTERVAL_MS);
        }
        // A check never outlasts its interval (the checker caps it so): /config shows the timeout in force.
        long checkTimeoutMax = intervalMs > 0 ? intervalMs : Long.MAX_VALUE;
        SidecarConfig.Health health = new SidecarConfig.Health(
                intervalMs, path,
                intIn(hc, "health.unhealthy_after", "unhealthy_after", dhc.unhealthyAfter(), 1, 1000),
                intIn(hc, "health.healthy_after", "healthy_after", dhc.healthyAfter(), 1, 1000),
                Math.min(longIn(hc, "health.timeout_ms", "timeout_ms", dhc.timeoutMillis(), 1, Long.MAX_VALUE), checkTimeoutMax),
                intIn(hc, "health.eject_after_failures", "eject_after_failures", breaker.failureThreshold(), 1, Integer.MAX_VALUE),
                ejectionMs,
                longIn(hc, "health.max_ejection_ms", "max_ejection_ms", Math.max(dhc.maxEjectionMillis(), ejectionMs), ejectionMs, Long.MAX_VALUE),
                intIn(hc, "health.max_ejected_percent", "max_ejected_percent", dhc.maxEjectedPercent(), 0, 100));

        String registry = textIn(root, "registry", "registry", d.registry(), null);
        if (!registry.equals("embedded") && !registry.startsWith("file:") && !registry.startsWith("http://")) {
            throw error("registry", root.get("registry"), "file:PATH, http://HOST:PORT or embedded");
        }
        String name = textIn(root, "name", "name", d.name(), null);
        if (!isToken(name)) {
            throw error("name", root.get("name"), NAME_EXPECTED);
        }
        return new SidecarConfig(
                name,
                serviceName(root, "service", textIn(root, "service", "service", d.service(), null)),
                registry,
                textIn(root, "bind_address", "bind_address", d.bindAddress(), null),
                new SidecarConfig.Listeners(admin, outbound, inbound, jsonline, List.copyOf(tcp)),
                new SidecarConfig.Resilience(breaker, retry, timeouts), http, health,
                longIn(root, "drain_ms", "drain_ms", d.drainMillis(), 0, MAX_DRAIN_MS), // a drain that never ends is a typo
                intIn(root, "io_threads", "io_threads", d.ioThreads(), 0, 1024),
                intIn(root, "max_connections", "max_connections", d.maxConnections(), 0, Integer.MAX_VALUE));
    }

    /**
     * What {@code name} must be: it is sent in every forwarded request's and response's {@code Via} header
     * ({@code 1.1 NAME}), whose received-by is one token (RFC 9110 7.6.3). A line break there made every
     * forwarded request fail without an answer; a space made a Via that strict parsers refuse.
     */
    public static final String NAME_EXPECTED = "an HTTP token such as sidecar-a (letters, digits and !#$%&'*+-.^_`|~): it is sent in Via";

    /** Whether {@code s} is a non-empty HTTP token (RFC 9110 5.6.2). */
    public static boolean isToken(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean tchar = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
            if (!tchar) {
                return false;
            }
        }
        return true;
    }

    private ConfigException error(String key, JsonNode value, String expected) {
        // YAML reads "key:" with nothing after it as an empty string: say so rather than print "".
        String shown = value == null ? "missing" : value.isTextual() && value.asText().isEmpty() ? "no value" : value.toString();
        return new ConfigException(source + ": " + key + ": " + shown + " (expected: " + expected + ")");
    }

    private void allowOnly(JsonNode node, String prefix, String... keys) throws ConfigException {
        Set<String> allowed = Set.of(keys);
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!allowed.contains(k)) {
                throw new ConfigException(source + ": " + prefix + k + ": unknown key (expected one of: " + String.join(", ", keys) + ")");
            }
        }
    }

    private JsonNode object(JsonNode parent, String key) throws ConfigException {
        return object(parent, key, key);
    }

    private JsonNode object(JsonNode parent, String field, String key) throws ConfigException {
        JsonNode n = parent.path(field);
        if (n.isMissingNode() || n.isNull()) {
            return MissingNode.getInstance();
        }
        requireObject(n, key);
        return n;
    }

    private void requireObject(JsonNode n, String key) throws ConfigException {
        if (!n.isObject()) {
            throw error(key, n, "a mapping");
        }
    }

    /** A listener's settings must be a mapping; the error names the two ways to write "defaults" and "closed". */
    private void requireListener(JsonNode n, String key, int port) throws ConfigException {
        if (!n.isObject()) {
            throw error(key, n, "a mapping; {} opens it on port " + port + ", ~ leaves it closed");
        }
    }

    /** A listener with only a port: absent (null) when left out, {@code dflt} when its port is. */
    private SidecarConfig.Port port(JsonNode listeners, String key, int dflt) throws ConfigException {
        JsonNode n = listener(listeners, key, dflt, "port");
        return n == null ? null : new SidecarConfig.Port(intIn(n, key + ".port", "port", dflt, 0, 65535));
    }

    /** A listener's settings, checked to be a mapping of only {@code keys}; null when it is left out (not opened). */
    private JsonNode listener(JsonNode listeners, String key, int port, String... keys) throws ConfigException {
        JsonNode n = listeners.path(key.substring(key.indexOf('.') + 1));
        if (n.isMissingNode() || n.isNull()) {
            return null;
        }
        requireListener(n, key, port);
        allowOnly(n, key + ".", keys);
        return n;
    }

    private int intIn(JsonNode parent, String key, String field, int dflt, int min, int max) throws ConfigException {
        return (int) longIn(parent, key, field, dflt, min, max);
    }

    private long longIn(JsonNode parent, String key, String field, long dflt, long min, long max) throws ConfigException {
        JsonNode n = parent.path(field);
        String expected = max == Long.MAX_VALUE || max == Integer.MAX_VALUE ? "an integer >= " + min : "an integer in " + min + ".." + max;
        if (n.isMissingNode() || n.isNull()) {
            if (dflt < min) {
                throw error(key, null, expected);
            }
            return dflt;
        }
        if (!n.isIntegralNumber() || !n.canConvertToLong()) {
            throw error(key, n, expected);
        }
        long v = n.asLong();
        if (v > max && max == Integer.MAX_VALUE) {
            throw error(key, n, "an integer in " + min + ".." + max); // ">= min" would not say why a larger number is refused
        }
        if (v < min || v > max) {
            throw error(key, n, expected);
        }
        return v;
    }

    private boolean boolIn(JsonNode parent, String key, String field, boolean dflt) throws ConfigException {
        JsonNode n = parent.path(field);
        if (n.isMissingNode() || n.isNull()) {
            return dflt;
        }
        if (!n.isBoolean()) {
            throw error(key, n, "true or false");
        }
        return n.asBoolean();
    }

    private String textIn(JsonNode parent, String key, String field, String dflt, Set<String> allowed) throws ConfigException {
        JsonNode n = parent.path(field);
        if (n.isMissingNode() || n.isNull()) {
            return dflt;
        }
        if (!n.isTextual() || n.asText().isBlank() || (allowed != null && !allowed.contains(n.asText()))) {
            throw error(key, n, allowed == null ? "a non-empty string" : "one of " + String.join(", ", new java.util.TreeSet<>(allowed)));
        }
        return n.asText();
    }

    /**
     * A service name as given, refused when it holds a '/': an instance's breaker is keyed service/host:port, so such a
     * name got wrong service and instance labels in /metrics and /clusters (the registry file and line-JSON refuse it too).
     */
    private String serviceName(JsonNode parent, String key, String name) throws ConfigException {
        if (name != null && name.indexOf('/') >= 0) {
            throw error(key, parent.get("service"), "a service name without '/'");
        }
        return name;
    }

    private String requiredText(JsonNode parent, String key, String field) throws ConfigException {
        JsonNode n = parent.path(field);
        if (!n.isTextual() || n.asText().isBlank()) {
            throw error(key, n.isMissingNode() ? null : n, "a service name");
        }
        return n.asText();
    }

    private Endpoint endpoint(JsonNode parent, String key, String dflt) throws ConfigException {
        JsonNode n = parent.path("app");
        if (!n.isMissingNode() && !n.isNull() && !n.isTextual()) {
            throw error(key, n, "host:port"); // app: 8080, a port alone
        }
        String text = textIn(parent, key, "app", dflt, null);
        try {
            return Endpoint.parse(text);
        } catch (IllegalArgumentException e) {
            throw error(key, parent.get("app"), "host:port");
        }
    }
}

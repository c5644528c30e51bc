package io.outrigger.discovery;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;

import io.outrigger.config.JsonErrors;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A static registry read once from a JSON file:
 * <pre>{ "services": { "service-b": [ {"host": "10.0.1.1", "port": 8080} ] } }</pre>
 * Immutable and thread-safe.
 */
public final class FileRegistry implements Registry {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(FileRegistry.class);

    /** The classpath location of the embedded default, a copy of {@code config/registry.json}. */
    public static final String EMBEDDED_DEFAULT = "/outrigger/registry.json";

    private static final JsonFactory JSON = new JsonFactory();
    /** The largest registry file read: far above any real one (a hundred thousand instances take a few MiB), and small enough for a small heap. */
    static final int MAX_FILE_BYTES = 16 << 20;

    private final Map<String, List<Endpoint>> services;
    private final String description;

    public FileRegistry(Map<String, List<Endpoint>> services, String description) {
        Map<String, List<Endpoint>> copy = new LinkedHashMap<>();
        services.forEach((k, v) -> copy.put(k, List.copyOf(v)));
        this.services = Collections.unmodifiableMap(copy);
        this.description = description;
    }

    /**
     * Reads a registry file. Every failure is one line of the same shape, {@code registry file PATH: what is wrong},
     * with {@code (expected: what)} when the content is wrong, whether the file cannot be read or its content is wrong.
     */
    public static FileRegistry load(Path file) throws RegistryException {
        String label = "registry file " + file;
        if (file.toString().isEmpty()) {
            // "file:" with nothing after it: the empty path is the working directory, which is no file the user named.
            throw new RegistryException("registry file: an empty path (expected: a JSON file)");
        }
        if (Files.isDirectory(file)) {
            throw new RegistryException(label + ": is a directory (expected: a JSON file)");
        }
        try (InputStream in = Files.newInputStream(file)) {
            // Bounded: /dev/zero, or a huge file named by mistake, would otherwise end in an OutOfMemoryError.
            byte[] json = in.readNBytes(MAX_FILE_BYTES + 1);
            if (json.length > MAX_FILE_BYTES) {
                throw new RegistryException(label + ": larger than " + (MAX_FILE_BYTES >> 20) + " MiB (expected: a JSON file)");
            }
            return parse(new ByteArrayInputStream(json), "file:" + file, label);
        } catch (NoSuchFileException e) {
            // A relative path is read from the working directory, not the config file's: say where that led.
            String where = file.isAbsolute() ? "" : " (relative to the working directory: " + file.toAbsolutePath().normalize() + ")";
            throw new RegistryException(label + ": not found" + where);
        } catch (AccessDeniedException e) {
            throw new RegistryException(label + ": permission denied");
        } catch (IOException e) {
            throw new RegistryException(label + ": cannot be read (" + e.getMessage() + ")");
        }
    }

    /** Reads the registry embedded in the jar. */
    public static FileRegistry embedded() {
        try (InputStream in = FileRegistry.class.getResourceAsStream(EMBEDDED_DEFAULT)) {
            if (in == null) {
                throw new IllegalStateException("embedded registry " + EMBEDDED_DEFAULT + " is missing from the jar");
            }
            return parse(in, "embedded:config/registry.json");
        } catch (IOException | RegistryException e) {
            throw new IllegalStateException("embedded registry is unreadable", e);
        }
    }

    /**
     * Parses a registry with Jackson's streaming parser (no {@code ObjectMapper}: its start-up costs
     * the stdin node's cold start hundreds of classes). Reads the whole document first, as a tree
     * would: invalid JSON anywhere wins over a bad entry; a repeated key counts once, its last
     * value at its first position; the first bad entry in that order is reported.
     */
    static FileRegistry parse(InputStream in, String description) throws IOException, RegistryException {
        return parse(in, description, description);
    }

    /** @param label how error messages name the source (as {@code registry file PATH}) */
    private static FileRegistry parse(InputStream in, String description, String label) throws IOException, RegistryException {
        byte[] json = in.readAllBytes();
        Map<String, Object> services = null; // service name -> List<Endpoint>, or the error message of its first bad entry
        try (JsonParser p = JSON.createParser(json)) {
            JsonToken root = p.nextToken();
            if (root == JsonToken.START_OBJECT) {
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String field = p.currentName();
                    JsonToken value = p.nextToken();
                    if (field.equals("services")) {
                        services = value == JsonToken.START_OBJECT ? readServices(p, json, label) : null;
                    }
                    p.skipChildren();
                }
            } else if (root != null) {
                p.skipChildren();
            }
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
            throw new RegistryException(label + ": not valid JSON" + where + " (" + JsonErrors.firstLine(e.getOriginalMessage()) + ")");
        }
        if (services == null) {
            throw new RegistryException(label + ": services: missing (expected: an object of service name to instance list)");
        }
        Map<String, List<Endpoint>> valid = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : services.entrySet()) {
            if (e.getValue() instanceof String error) {
                throw new RegistryException(error);
            }
            @SuppressWarnings("unchecked")
            List<Endpoint> list = (List<Endpoint>) e.getValue();
            valid.put(e.getKey(), list);
        }
        return new FileRegistry(valid, description);
    }

    /** Reads the {@code services} object, the parser on its START_OBJECT; leaves it on the END_OBJECT. */
    private static Map<String, Object> readServices(JsonParser p, byte[] json, String label) throws IOException {
        Map<String, Object> services = new LinkedHashMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            String key = "services." + name;
            if (name.isBlank()) {
                p.nextToken();
                p.skipChildren();
                services.put(name, label + ": services: \"" + name + "\" (expected: a service name, not empty)");
                continue;
            }
            if (name.indexOf('/') >= 0) {
                // service/host:port keys an instance's breaker: such a name got wrong labels in /metrics and /clusters.
                p.nextToken();
                p.skipChildren();
                services.put(name, label + ": services: \"" + name + "\" (expected: a service name without '/')");
                continue;
            }
            if (p.nextToken() != JsonToken.START_ARRAY) {
                services.put(name, label + ": " + key + ": " + text(p) + " (expected: an array of {host, port})");
                continue;
            }
            List<Endpoint> list = new ArrayList<>();
            String error = null;
            for (int i = 0; p.nextToken() != JsonToken.END_ARRAY; i++) {
                long start = p.currentTokenLocation().getByteOffset();
                Object inst = readInstance(p);
                if (error != null) {
                    continue;
                }
                if (inst instanceof Endpoint endpoint) {
                    if (list.contains(endpoint)) {
                        // Kept, as before (some weight an instance so), but said: the copies share one breaker and one health state.
                        LOG.warn("{}: {}[{}]: {} is listed again: it takes one more turn of the round robin, and shares its breaker"
                                + " and health with the other listing", label, key, i, endpoint);
                    }
                    list.add(endpoint);
                } else if (inst instanceof IllegalArgumentException bad) {
                    error = label + ": " + key + "[" + i + "]." + bad.getMessage();
                } else {
                    error = label + ": " + key + "[" + i + "]: " + textAt(json, start)
                            + " (expected: {\"host\": string, \"port\": integer})";
                }
            }
            services.put(name, error == null ? list : error);
        }
        return services;
    }

    /**
     * Reads one instance, the parser on its first token; leaves it on its last. Returns the
     * {@link Endpoint}, the {@link IllegalArgumentException} the endpoint refused, or null when
     * the shape is wrong. Like a tree: the last of repeated keys counts; a port is any number in
     * int range (a fraction is cut).
     */
    private static Object readInstance(JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            p.skipChildren();
            return null;
        }
        String host = null;
        Integer port = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken value = p.nextToken();
            if (field.equals("host")) {
                host = value == JsonToken.VALUE_STRING ? p.getText() : null;
            } else if (field.equals("port")) {
                port = intValue(p, value);
            }
            p.skipChildren();
        }
        if (host == null || port == null) {
            return null;
        }
        try {
            return new Endpoint(host, port);
        } catch (IllegalArgumentException e) {
            return e;
        }
    }

    /** The number under the parser as an int (like {@code JsonNode.canConvertToInt/asInt}), or null. */
    private static Integer intValue(JsonParser p, JsonToken token) throws IOException {
        if (token == JsonToken.VALUE_NUMBER_INT) {
            if (p.getNumberType() == JsonParser.NumberType.INT) {
                return p.getIntValue();
            }
            BigInteger v = p.getBigIntegerValue();
            return v.bitLength() < Integer.SIZE ? v.intValue() : null;
        }
        if (token == JsonToken.VALUE_NUMBER_FLOAT) {
            double v = p.getDoubleValue();
            return v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE ? (int) v : null;
        }
        return null;
    }

    /** The compact JSON text of the value under the parser (as a tree node prints it); leaves the parser on its last token. */
    private static String text(JsonParser p) throws IOException {
        StringWriter out = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.copyCurrentStructure(p);
        }
        return out.toString();
    }

    /** The compact JSON text of the value starting at byte {@code offset}. */
    private static String textAt(byte[] json, long offset) throws IOException {
        try (JsonParser p = JSON.createParser(json, (int) offset, json.length - (int) offset)) {
            p.nextToken();
            return text(p);
        }
    }

    @Override
    public List<Endpoint> endpoints(String service) {
        List<Endpoint> list = services.get(service);
        return list == null ? List.of() : list;
    }

    @Override
    public boolean contains(String service) {
        return services.containsKey(service);
    }

    @Override
    public Set<String> services() {
        return services.keySet();
    }

    @Override
    public String describe() {
        return description;
    }
}

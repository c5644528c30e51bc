package io.outrigger.discovery;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
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
    /** The classpath location of the embedded default, a copy of {@code config/registry.json}. */
    public static final String EMBEDDED_DEFAULT = "/outrigger/registry.json";

    private final Map<String, List<Endpoint>> services;
    private final String description;

    public FileRegistry(Map<String, List<Endpoint>> services, String description) {
        Map<String, List<Endpoint>> copy = new LinkedHashMap<>();
        services.forEach((k, v) -> copy.put(k, List.copyOf(v)));
        this.services = Collections.unmodifiableMap(copy);
        this.description = description;
    }

    /** Reads a registry file; the message of the exception names the file and the problem. */
    public static FileRegistry load(Path file) throws RegistryException {
        try (InputStream in = Files.newInputStream(file)) {
            return parse(in, "file:" + file);
        } catch (NoSuchFileException e) {
            throw new RegistryException("registry file " + file + ": not found");
        } catch (IOException e) {
            throw new RegistryException("registry file " + file + ": " + e.getMessage());
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

    static FileRegistry parse(InputStream in, String description) throws IOException, RegistryException {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(in);
        } catch (JsonProcessingException e) {
            throw new RegistryException(description + ": not valid JSON (" + e.getOriginalMessage() + ")");
        }
        JsonNode svcs = root == null ? null : root.get("services");
        if (svcs == null || !svcs.isObject()) {
            throw new RegistryException(description + ": services: missing (expected: an object of service name to instance list)");
        }
        Map<String, List<Endpoint>> services = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = svcs.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = "services." + e.getKey();
            if (!e.getValue().isArray()) {
                throw new RegistryException(description + ": " + key + ": " + e.getValue() + " (expected: an array of {host, port})");
            }
            List<Endpoint> list = new ArrayList<>();
            int i = 0;
            for (JsonNode inst : e.getValue()) {
                JsonNode host = inst.get("host");
                JsonNode port = inst.get("port");
                if (host == null || !host.isTextual() || port == null || !port.canConvertToInt()) {
                    throw new RegistryException(description + ": " + key + "[" + i + "]: " + inst + " (expected: {\"host\": string, \"port\": integer})");
                }
                try {
                    list.add(new Endpoint(host.asText(), port.asInt()));
                } catch (IllegalArgumentException ex) {
                    throw new RegistryException(description + ": " + key + "[" + i + "]." + ex.getMessage());
                }
                i++;
            }
            services.put(e.getKey(), list);
        }
        return new FileRegistry(services, description);
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

package io.outrigger.registry.consul;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.outrigger.registry.http.HttpServer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The registry stub: a {@link Catalog}, its {@link CheckRunner} and the HTTP API ({@link RegistryHandler}) on
 * one port. Seeded instances (from a {@code registry.json} file) have no check and stay passing; they are never
 * contacted. Thread-safe.
 */
public final class RegistryServer implements AutoCloseable {
    private final HttpServer http;
    private final Catalog catalog;
    private final CheckRunner checks;

    private RegistryServer(HttpServer http, Catalog catalog, CheckRunner checks) {
        this.http = http;
        this.catalog = catalog;
        this.checks = checks;
    }

    /** Starts the registry on {@code host:port} (0 picks a free port) with the seeded instances registered. */
    public static RegistryServer start(String host, int port, List<Registration> seed) throws InterruptedException {
        Catalog catalog = new Catalog(System::nanoTime);
        HttpServer http = HttpServer.bind("registry-stub", host, port, 0, new RegistryHandler(catalog));
        CheckRunner checks = new CheckRunner(catalog, http.group().next());
        for (Registration r : seed) {
            catalog.register(r.id(), r.name(), r.address(), r.port(), null);
        }
        return new RegistryServer(http, catalog, checks);
    }

    /**
     * Reads a {@code registry.json} seed: {@code {"services": {"service-b": [{"host": "10.0.1.1", "port": 8080}]}}};
     * instance ids are {@code NAME-HOST-PORT}. The exception's message names the file, key and problem.
     */
    public static List<Registration> readSeed(Path file) throws IOException {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new IOException(file + ": file not found");
        } catch (JsonProcessingException e) {
            throw new IOException(file + ": not valid JSON (" + e.getOriginalMessage() + ")");
        }
        JsonNode services = root == null ? null : root.get("services");
        if (services == null || !services.isObject()) {
            throw new IOException(file + ": services: missing (expected: an object of service name to instance list)");
        }
        List<Registration> out = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : services.properties()) {
            if (!e.getValue().isArray()) {
                throw new IOException(file + ": services." + e.getKey() + ": " + e.getValue() + " (expected: an array of {host, port})");
            }
            int i = 0;
            for (JsonNode inst : e.getValue()) {
                JsonNode host = inst.get("host");
                JsonNode port = inst.get("port");
                if (host == null || !host.isTextual() || host.asText().isBlank() || port == null || !port.isIntegralNumber()
                        || port.asInt() < 1 || port.asInt() > 65535) {
                    throw new IOException(file + ": services." + e.getKey() + "[" + i + "]: " + inst
                            + " (expected: {\"host\": string, \"port\": 1..65535})");
                }
                String id = e.getKey() + '-' + host.asText() + '-' + port.asInt();
                out.add(new Registration(id, e.getKey(), host.asText(), port.asInt(), null));
                i++;
            }
        }
        return out;
    }

    public int port() {
        return http.port();
    }

    public Catalog catalog() {
        return catalog;
    }

    @Override
    public void close() {
        checks.close();
        http.close();
    }
}

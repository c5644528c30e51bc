package io.outrigger.registry.consul;

import io.outrigger.discovery.Endpoint;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.discovery.RegistryException;
import io.outrigger.registry.http.HttpServer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

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
        FileRegistry registry;
        try {
            registry = FileRegistry.load(file);
        } catch (RegistryException e) {
            throw new IOException(e.getMessage());
        }
        List<Registration> out = new ArrayList<>();
        for (String service : registry.services()) {
            for (Endpoint e : registry.endpoints(service)) {
                out.add(new Registration(service + '-' + e.host() + '-' + e.port(), service, e.host(), e.port(), null));
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

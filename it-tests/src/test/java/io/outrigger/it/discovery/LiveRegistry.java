package io.outrigger.it.discovery;

import io.outrigger.it.harness.FreePorts;
import io.outrigger.registry.consul.RegistryServer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;

/** A registry stub running in this JVM on a loopback port, with helpers to change it over its real HTTP API. */
final class LiveRegistry implements AutoCloseable {
    private HttpClient client = newClient();
    private RegistryServer server;
    private final int port;

    /**
     * A stub on a port from {@link FreePorts}, not port 0: {@link #restart()} binds the same port again after
     * the stub was down for seconds, and a port of the kernel's ephemeral range could be anyone's by then.
     */
    LiveRegistry() throws InterruptedException {
        this(FreePorts.next());
    }

    LiveRegistry(int port) throws InterruptedException {
        this.server = RegistryServer.start("127.0.0.1", port, List.of());
        this.port = server.port();
    }

    int port() {
        return port;
    }

    String url() {
        return "http://127.0.0.1:" + port;
    }

    void register(String id, String service, int instancePort) {
        put("/v1/agent/service/register", "{\"ID\":\"" + id + "\",\"Name\":\"" + service
                + "\",\"Address\":\"127.0.0.1\",\"Port\":" + instancePort + "}");
    }

    /** Registers an instance with an HTTP check at {@code checkUrl}: critical until a check passes. */
    void registerChecked(String id, String service, int instancePort, String checkUrl) {
        put("/v1/agent/service/register", "{\"ID\":\"" + id + "\",\"Name\":\"" + service + "\",\"Address\":\"127.0.0.1\",\"Port\":"
                + instancePort + ",\"Check\":{\"HTTP\":\"" + checkUrl + "\",\"Interval\":\"1s\",\"Timeout\":\"1s\"}}");
    }

    void deregister(String id) {
        put("/v1/agent/service/deregister/" + id, "");
    }

    /** Stops the stub (its port is free again); {@link #restart()} brings a fresh, empty one up on the same port. */
    void stop() {
        server.close();
    }

    void restart() throws InterruptedException {
        server = RegistryServer.start("127.0.0.1", port, List.of());
        client = newClient(); // no pooled connection to the stopped stub can be picked for the next request
    }

    private static HttpClient newClient() {
        return HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY).version(HttpClient.Version.HTTP_1_1).build();
    }

    @Override
    public void close() {
        server.close();
    }

    /**
     * The timeout only stops a hang: the first request of a test JVM (client and stub both cold) on a loaded
     * 2-core machine was seen to take more than 5 s.
     */
    private void put(String path, String body) {
        try {
            HttpResponse<String> res = client.send(HttpRequest.newBuilder(URI.create(url() + path)).timeout(Duration.ofSeconds(30))
                    .PUT(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            if (res.statusCode() != 200) {
                throw new AssertionError(path + ": " + res.statusCode() + " " + res.body());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Polls {@code condition} every 5 ms until it holds; fails after {@code millis}. Returns the time it took. */
    static long await(String what, long millis, BooleanSupplier condition) {
        long start = System.nanoTime();
        long deadline = start + millis * 1_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out after " + millis + " ms waiting for: " + what);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
        return (System.nanoTime() - start) / 1_000_000L;
    }
}

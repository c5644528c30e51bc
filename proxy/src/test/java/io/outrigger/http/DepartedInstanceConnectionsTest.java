package io.outrigger.http;

import io.outrigger.Sidecar;
import io.outrigger.SidecarContext;
import io.outrigger.config.ConfigLoader;
import io.outrigger.discovery.Endpoint;
import io.outrigger.testing.ChangingRegistry;
import io.outrigger.testing.Closer;
import io.outrigger.time.Ticker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * An instance that leaves the registry takes its pooled connections along: the idle ones close when
 * the registry says so, and one still serving a request closes when that request is done, instead of
 * both staying open on both sides until {@code http.idle_timeout_ms}.
 */
class DepartedInstanceConnectionsTest {

    @Test
    void connectionsToADepartedInstanceCloseIdleOrWhenTheirRequestIsDone(@TempDir Path dir) throws Exception {
        try (Closer closer = new Closer()) {
            TestUpstream a = closer.add(new TestUpstream());
            TestUpstream b = closer.add(new TestUpstream());
            Endpoint ea = new Endpoint("127.0.0.1", a.port());
            Endpoint eb = new Endpoint("127.0.0.1", b.port());
            ChangingRegistry registry = new ChangingRegistry();
            registry.set("service-b", ea, eb);
            String yaml = SidecarHarness.yaml(SidecarHarness.registry(dir, ""), SidecarHarness.RESILIENCE)
                    .replace("io_threads: 2\n", "io_threads: 1\n");
            Sidecar sidecar = closer.add(new Sidecar(new SidecarContext(ConfigLoader.parse(yaml, "test"), registry, Ticker.system())));
            sidecar.start();
            int port = sidecar.boundPorts().get("outbound");
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", port))).build();
            HttpRequest get = HttpRequest.newBuilder(URI.create("http://service-b/x")).timeout(Duration.ofSeconds(5)).build();

            // Round robin: one request each, so each instance has a pooled connection.
            for (int i = 0; i < 2; i++) {
                assertEquals(200, client.send(get, HttpResponse.BodyHandlers.discarding()).statusCode());
            }
            assertEquals(1, a.requestCount());
            assertEquals(1, b.requestCount());

            registry.set("service-b", ea); // b leaves
            SidecarHarness.await(Duration.ofSeconds(5), () -> b.closedConnections.get() == 1, "b's idle connection to close");
            assertEquals(200, client.send(get, HttpResponse.BodyHandlers.discarding()).statusCode());
            assertEquals(2, a.requestCount());
            assertEquals(1, a.connections.get(), "a's connection is kept and reused");
            assertEquals(0, a.closedConnections.get());

            // b comes back, and leaves again while it serves a request.
            registry.set("service-b", eb);
            b.delayMillis = 300;
            CompletableFuture<HttpResponse<Void>> slow = client.sendAsync(get, HttpResponse.BodyHandlers.discarding());
            SidecarHarness.await(Duration.ofSeconds(5), () -> b.requestCount() == 2, "the request to reach b");
            registry.set("service-b", ea);
            assertEquals(200, slow.get(5, TimeUnit.SECONDS).statusCode(), "the request in flight is answered");
            SidecarHarness.await(Duration.ofSeconds(5), () -> b.closedConnections.get() == 2, "b's leased connection to close once released");
            assertEquals(2, b.connections.get());
        }
    }
}

package io.outrigger.http;

import io.outrigger.Sidecar;
import io.outrigger.SidecarContext;
import io.outrigger.config.ConfigLoader;
import io.outrigger.discovery.Endpoint;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.resilience.CircuitBreaker;
import io.outrigger.testing.Closer;
import io.outrigger.time.Ticker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * One instance of two dies with requests in flight to it (as under load when it is killed): every
 * one of them fails at once. Those are failures of that instance, which its breaker counts; the
 * service answers them on its other instance, so the service's breaker, which judges requests and
 * not attempts, must stay closed. Counted per attempt, the burst opened the service's breaker: the
 * retries of the burst were refused (502) and every request after it failed fast (503) for
 * {@code open_ms}, though half of the service was healthy.
 */
class ServiceBreakerVerdictTest {
    private static final int IN_FLIGHT_TO_DYING = 6; // more than the failure threshold (5)

    @Test
    void aBurstOfFailuresOnOneInstanceLeavesTheServiceBreakerClosed(@TempDir Path dir) throws Exception {
        try (Closer closer = new Closer(); ServerSocket dying = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            TestUpstream healthy = closer.add(new TestUpstream());
            ConcurrentLinkedQueue<Socket> held = new ConcurrentLinkedQueue<>();
            Thread acceptor = new Thread(() -> holdRequests(dying, held), "dying-instance");
            acceptor.setDaemon(true);
            acceptor.start();

            Path registry = SidecarHarness.registry(dir, "\"service-b\": ["
                    + SidecarHarness.instance(dying.getLocalPort()) + ", " + SidecarHarness.instance(healthy.port()) + "]");
            // A long request_ms: the requests wait at the dying instance until the test kills it. A retry budget
            // that lets every request of the burst retry at once: what the budget refuses is not this test's subject.
            String yaml = SidecarHarness.yaml(registry, SidecarHarness.RESILIENCE.replace("request_ms: 1000", "request_ms: 20000")
                    .replace("open_ms: 200", "open_ms: 30000").replace("budget_percent: 20", "budget_percent: 100"));
            SidecarContext context = new SidecarContext(ConfigLoader.parse(yaml, "test"), FileRegistry.load(registry), Ticker.system());
            Sidecar sidecar = closer.add(new Sidecar(context));
            sidecar.start();
            int port = sidecar.boundPorts().get("outbound");
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", port))).build();
            HttpRequest get = HttpRequest.newBuilder(URI.create("http://service-b/x")).timeout(Duration.ofSeconds(30)).build();

            // Round robin: every other request goes to the dying instance first, and waits there.
            List<CompletableFuture<HttpResponse<Void>>> calls = new ArrayList<>();
            for (int i = 0; i < 2 * IN_FLIGHT_TO_DYING; i++) {
                calls.add(client.sendAsync(get, HttpResponse.BodyHandlers.discarding()));
            }
            SidecarHarness.await(Duration.ofSeconds(20), () -> held.size() == IN_FLIGHT_TO_DYING,
                    IN_FLIGHT_TO_DYING + " requests waiting at the dying instance (" + held.size() + " so far)");

            for (Socket s : held) { // killed: every connection reset at once
                s.setSoLinger(true, 0);
                s.close();
            }
            Map<Integer, Integer> statuses = new TreeMap<>();
            for (CompletableFuture<HttpResponse<Void>> c : calls) {
                statuses.merge(c.get(30, TimeUnit.SECONDS).statusCode(), 1, Integer::sum);
            }
            assertEquals(Map.of(200, 2 * IN_FLIGHT_TO_DYING), statuses, "every request answered by the healthy instance");

            Endpoint dead = new Endpoint("127.0.0.1", dying.getLocalPort());
            assertEquals(CircuitBreaker.State.OPEN, context.breakers().findInstance("service-b", dead).state(),
                    "the dying instance's breaker counted its failures");
            assertEquals(CircuitBreaker.State.CLOSED, context.breakers().forService("service-b").state(),
                    "the service's breaker: every request it judged succeeded");
            for (int i = 0; i < 5; i++) {
                assertEquals(200, client.send(get, HttpResponse.BodyHandlers.discarding()).statusCode(), "request " + i + " after the burst");
            }
        }
    }

    @Test
    void aRequestIsOneVerdictForTheServiceHoweverManyAttemptsItMade(@TempDir Path dir) throws Exception {
        try (Closer closer = new Closer()) {
            TestUpstream b = closer.add(new TestUpstream());
            b.status = 503;
            OneInstance one = closer.add(new OneInstance(dir, b.port()));
            SidecarContext context = one.context;
            HttpClient client = one.client;

            HttpResponse<Void> res = client.send(HttpRequest.newBuilder(URI.create("http://service-b/x")).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.discarding());
            assertEquals(503, res.statusCode(), "the last attempt's answer");
            assertEquals(3, b.requestCount(), "a GET answered 503, retried max_retries=2 times");
            assertEquals(3, context.breakers().findInstance("service-b", new Endpoint("127.0.0.1", b.port())).consecutiveFailures(),
                    "the instance's breaker judges every attempt");
            assertEquals(1, context.breakers().forService("service-b").consecutiveFailures(),
                    "the service's breaker judges the request once");
        }
    }

    /**
     * Every instance's breaker refuses: a request the service's closed breaker let through is a failure of the
     * service (so its breaker opens when all its instances' have), but one holding a half-open breaker's probe
     * probed nothing, and the probe goes back, as on the TCP edge.
     */
    @Test
    void aRequestNoInstanceCouldTakeFailsTheServiceUnlessItHeldAProbe(@TempDir Path dir) throws Exception {
        try (Closer closer = new Closer()) {
            TestUpstream b = closer.add(new TestUpstream());
            OneInstance one = closer.add(new OneInstance(dir, b.port()));
            SidecarContext context = one.context;
            HttpClient client = one.client;
            HttpRequest get = HttpRequest.newBuilder(URI.create("http://service-b/x")).timeout(Duration.ofSeconds(10)).build();
            CircuitBreaker service = context.breakers().forService("service-b");
            CircuitBreaker instance = context.breakers().forInstance("service-b", new Endpoint("127.0.0.1", b.port()));
            instance.transitionTo(CircuitBreaker.State.OPEN, "test");

            assertEquals(503, client.send(get, HttpResponse.BodyHandlers.discarding()).statusCode());
            assertEquals(1, service.consecutiveFailures(), "let through by the closed breaker: a failure of the service");

            service.transitionTo(CircuitBreaker.State.HALF_OPEN, "test");
            assertEquals(503, client.send(get, HttpResponse.BodyHandlers.discarding()).statusCode());
            assertEquals(CircuitBreaker.State.HALF_OPEN, service.state());
            assertEquals(1, service.snapshot().probesLeft(), "the probe is given back");
            assertEquals(0, b.requestCount(), "no request reached the instance");
        }
    }

    /** A sidecar ({@link SidecarHarness#RESILIENCE}, a 30 s {@code open_ms}) whose registry holds service-b at one port, and a client of it. */
    private static final class OneInstance implements AutoCloseable {
        final SidecarContext context;
        final HttpClient client;
        private final Sidecar sidecar;

        OneInstance(Path dir, int port) throws Exception {
            Path registry = SidecarHarness.registry(dir, "\"service-b\": [" + SidecarHarness.instance(port) + "]");
            String yaml = SidecarHarness.yaml(registry, SidecarHarness.RESILIENCE.replace("open_ms: 200", "open_ms: 30000"));
            context = new SidecarContext(ConfigLoader.parse(yaml, "test"), FileRegistry.load(registry), Ticker.system());
            sidecar = new Sidecar(context);
            sidecar.start();
            client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", sidecar.boundPorts().get("outbound")))).build();
        }

        @Override
        public void close() {
            sidecar.close();
        }
    }

    /** Accepts connections and reads what comes, answering nothing: each connection is held until the test resets it. */
    private static void holdRequests(ServerSocket server, ConcurrentLinkedQueue<Socket> held) {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                Thread reader = new Thread(() -> {
                    try (InputStream in = s.getInputStream()) {
                        byte[] buf = new byte[4096];
                        int n = in.read(buf); // the request head (a GET: no body)
                        if (n > 0) {
                            held.add(s);
                        }
                        while (in.read(buf) >= 0) {
                            // nothing else comes; the read ends when the test closes the socket
                        }
                    } catch (IOException closed) {
                        // reset by the test
                    }
                });
                reader.setDaemon(true);
                reader.start();
            } catch (IOException e) {
                return; // closed at the end of the test
            }
        }
    }
}

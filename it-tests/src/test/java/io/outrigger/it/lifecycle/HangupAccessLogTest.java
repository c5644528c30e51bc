package io.outrigger.it.lifecycle;

import com.sun.net.httpserver.HttpServer;
import io.outrigger.it.harness.FreePorts;
import io.outrigger.it.harness.ManagedProcess;
import io.outrigger.it.harness.ProjectLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SIGHUP is not one of the signals the sidecar handles itself, so the JVM exits through its
 * shutdown hooks, which run all at once: the sidecar's drain in one, the access log's flush in
 * another. A request still in flight when the signal comes is finished by the drain, and its
 * access log line must still reach stderr (the log's hook must not close it under the drain).
 */
class HangupAccessLogTest {
    private static final Duration WAIT = Duration.ofSeconds(15);
    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    @Test
    void aRequestFinishedByTheDrainAfterSighupIsStillInTheAccessLog() throws Exception {
        ProjectLayout layout = ProjectLayout.current();
        layout.requireJars();
        // The local app: holds each request for 1 s, so the signal comes while one is in flight.
        CountDownLatch received = new CountDownLatch(1);
        HttpServer app = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        ExecutorService appThreads = Executors.newCachedThreadPool();
        open.add(appThreads::shutdownNow);
        app.setExecutor(appThreads);
        app.createContext("/", exchange -> {
            received.countDown();
            try {
                Thread.sleep(1_000); // the app's own work (a test server thread, not the proxy's)
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            byte[] body = "done\n".getBytes();
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        app.start();
        open.add(() -> app.stop(0));
        int appPort = app.getAddress().getPort();
        int admin = FreePorts.next();
        int outbound = FreePorts.next();
        int inbound = FreePorts.next();
        Path dir = layout.logDir().resolve("hangup-access-log");
        Files.createDirectories(dir);
        Path registry = Files.writeString(dir.resolve("registry.json"), "{\"services\": {}}");
        Path config = Files.writeString(dir.resolve("sidecar.yaml"), "name: hangup-sidecar\nservice: service-a\n"
                + "registry: file:" + registry + "\nbind_address: 127.0.0.1\ndrain_ms: 4000\n"
                + "health: { interval_ms: 0 }\n"
                + "listeners:\n"
                + "  admin: { port: " + admin + " }\n"
                + "  outbound: { port: " + outbound + " }\n"
                + "  inbound: { port: " + inbound + ", app: 127.0.0.1:" + appPort + " }\n");
        ManagedProcess sidecar = ManagedProcess.startSidecar("hangup-sidecar", layout.proxyJar(), List.of(), config, admin, dir, WAIT);
        open.add(sidecar::kill);
        HttpClient client = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY).version(HttpClient.Version.HTTP_1_1).build();

        CompletableFuture<HttpResponse<String>> inFlight = client.sendAsync(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + inbound + "/finished-by-the-drain")).timeout(WAIT).build(),
                HttpResponse.BodyHandlers.ofString());
        assertTrue(received.await(WAIT.toMillis(), TimeUnit.MILLISECONDS), "the request reached the app");
        new ProcessBuilder("kill", "-HUP", Long.toString(sidecar.pid())).start().waitFor(5, TimeUnit.SECONDS);

        HttpResponse<String> res = inFlight.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertEquals(200, res.statusCode(), "the drain finished the request in flight: " + res.body());
        Optional<Integer> exit = sidecar.awaitExit(WAIT);
        assertTrue(exit.isPresent(), "exited after SIGHUP");
        String log = Files.readString(sidecar.logFile());
        assertTrue(log.lines().anyMatch(l -> l.startsWith("{\"edge\": \"inbound\"") && l.contains("\"path\": \"/finished-by-the-drain\"")
                && l.contains("\"status\": 200")), "the access log line of the request the drain finished; log:\n" + sidecar.logTail(20));
    }
}

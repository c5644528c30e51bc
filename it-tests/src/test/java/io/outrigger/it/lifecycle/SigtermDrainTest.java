package io.outrigger.it.lifecycle;

import io.outrigger.it.harness.FreePorts;
import io.outrigger.it.harness.ManagedProcess;
import io.outrigger.it.harness.Poller;
import io.outrigger.it.harness.ProjectLayout;
import io.outrigger.registry.fake.Behaviour;
import io.outrigger.registry.fake.FakeService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.Socket;
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
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SIGTERM to a sidecar JVM under steady keep-alive load through its inbound listener, in front of a
 * fake service answering after 50 ms: no request that got onto a connection is lost (each gets a
 * complete 200; after the grace new connections are refused, which is not a loss), {@code /ready}
 * turns 503 right after the signal, outbound still serves after the grace, and the process exits 0
 * at the deadline, even with a second SIGTERM and a SIGINT during the drain.
 */
class SigtermDrainTest {
    /**
     * The longest grace: /ready must turn 503 within it, and outbound be called between its end and the
     * deadline, each step on a machine that may be loaded (a grace of 500 ms left that little headroom).
     */
    private static final long DRAIN_MS = 4_000;
    private static final long GRACE_MS = 1_000; // min(1 s, drain_ms / 4)
    private static final int CLIENTS = 8;
    private static final Duration WAIT = Duration.ofSeconds(15);

    private final List<AutoCloseable> open = new ArrayList<>();
    private final AtomicBoolean loadRunning = new AtomicBoolean(true);

    @AfterEach
    void stop() throws Exception {
        loadRunning.set(false);
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    @Test
    void sigtermUnderLoadLosesNoAcceptedRequestAndExitsZeroAtTheDeadline() throws Exception {
        ProjectLayout layout = ProjectLayout.current();
        layout.requireJars();
        FakeService app = FakeService.start(FakeService.Settings.local("service-b"), new Behaviour(0, 50));
        open.add(app::close);
        int admin = FreePorts.next();
        int outbound = FreePorts.next();
        int inbound = FreePorts.next();
        Path dir = layout.logDir().resolve("sigterm-drain");
        Files.createDirectories(dir);
        Path registry = Files.writeString(dir.resolve("registry.json"),
                "{\"services\": {\"service-b\": [{\"host\": \"127.0.0.1\", \"port\": " + app.port() + "}]}}");
        Path config = Files.writeString(dir.resolve("sidecar.yaml"), "name: drain-sidecar\nservice: service-a\n"
                + "registry: file:" + registry + "\nbind_address: 127.0.0.1\ndrain_ms: " + DRAIN_MS + "\nio_threads: 2\n"
                + "health: { interval_ms: 0 }\n"
                + "listeners:\n"
                + "  admin: { port: " + admin + " }\n"
                + "  outbound: { port: " + outbound + " }\n"
                + "  inbound: { port: " + inbound + ", app: 127.0.0.1:" + app.port() + " }\n");
        ManagedProcess sidecar = ManagedProcess.startSidecar("drain-sidecar", layout.proxyJar(),
                List.of("-Dorg.slf4j.simpleLogger.showDateTime=true", "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS"),
                config, admin, dir, WAIT);
        open.add(sidecar::kill);
        HttpClient adminClient = client();

        // Steady load: each client keeps one keep-alive connection busy with back-to-back requests.
        AtomicInteger ok = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        Queue<String> lost = new ConcurrentLinkedQueue<>();
        List<Thread> clients = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
            int id = c;
            Thread t = new Thread(() -> load(id, inbound, ok, refused, lost), "load-" + c);
            t.setDaemon(true);
            t.start();
            clients.add(t);
        }
        Poller.awaitTrue("load under way", WAIT, Duration.ofMillis(10), () -> ok.get() >= CLIENTS * 3);
        int okBefore = ok.get();

        long t0 = System.nanoTime();
        System.out.println("SIGTERM at " + java.time.LocalTime.now());
        sidecar.terminate();
        long readyFlippedMillis = Poller.await("/ready 503", WAIT, Duration.ofMillis(2), () ->
                get(adminClient, admin, "/ready").statusCode() == 503
                        ? Optional.of(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)) : Optional.empty());
        sidecar.terminate(); // a second SIGTERM, and a SIGINT: the first deadline holds, no early or abnormal exit
        new ProcessBuilder("kill", "-INT", Long.toString(sidecar.pid())).start().waitFor(5, TimeUnit.SECONDS);
        Poller.awaitTrue("inbound refusing", WAIT, Duration.ofMillis(5), () -> refuses(inbound));
        long intakeStoppedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        HttpClient viaOutbound = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", outbound))).build(); // proxy form, like HTTP_PROXY
        HttpResponse<String> outboundCall = viaOutbound.send(HttpRequest.newBuilder(URI.create("http://service-b/after-grace"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        Optional<Integer> exit = sidecar.awaitExit(Duration.ofMillis(DRAIN_MS + 5_000));
        long exitMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        loadRunning.set(false);
        for (Thread t : clients) {
            t.join(10_000);
        }

        System.out.printf("drain: /ready 503 after %d ms, inbound refusing after %d ms, exit after %d ms;"
                        + " %d requests ok (%d during the drain), %d refused, %d lost%n",
                readyFlippedMillis, intakeStoppedMillis, exitMillis, ok.get(), ok.get() - okBefore, refused.get(), lost.size());
        assertEquals(List.of(), List.copyOf(lost), "requests that got onto a connection but no complete answer");
        assertTrue(readyFlippedMillis < GRACE_MS, "/ready turned 503 after " + readyFlippedMillis + " ms, not within the grace");
        assertTrue(intakeStoppedMillis >= GRACE_MS, "inbound stopped accepting after " + intakeStoppedMillis + " ms");
        assertTrue(ok.get() > okBefore, "requests kept being answered during the grace");
        assertTrue(refused.get() > 0, "new connections after the grace are refused");
        assertEquals(200, outboundCall.statusCode(), "outbound still serves after the grace: " + outboundCall.body());
        assertEquals(Optional.of(0), exit, "exit code; log:\n" + sidecar.logTail(20));
        assertTrue(exitMillis >= DRAIN_MS, "exited after " + exitMillis + " ms, before the deadline");
        String log = sidecar.logTail(Integer.MAX_VALUE);
        int signal = log.indexOf("SIGTERM received");
        assertTrue(signal >= 0 && signal < log.indexOf("draining: listeners stop accepting"),
                "the signal is logged before the drain it starts:\n" + sidecar.logTail(20));
    }

    /** One client: back-to-back GETs over its own keep-alive connection until the test ends or the port refuses. */
    private void load(int id, int port, AtomicInteger ok, AtomicInteger refused, Queue<String> lost) {
        HttpClient client = client();
        for (int i = 0; loadRunning.get(); i++) {
            try {
                HttpResponse<String> res = get(client, port, "/work/" + id + "/" + i);
                if (res.statusCode() == 200 && res.body().contains("/work/" + id + "/" + i)) {
                    ok.incrementAndGet();
                } else {
                    lost.add("client " + id + " request " + i + ": " + res.statusCode() + " " + res.body());
                }
            } catch (ConnectException e) {
                refused.incrementAndGet(); // never got a connection: not a lost request, and the port stays closed
                return;
            } catch (IOException e) {
                lost.add("client " + id + " request " + i + ": " + e);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private static HttpClient client() {
        return HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY).version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(2)).build();
    }

    private static HttpResponse<String> get(HttpClient client, int port, String path) throws IOException, InterruptedException {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10)).build();
        return client.send(req, HttpResponse.BodyHandlers.ofString());
    }

    private static boolean refuses(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            return false;
        } catch (ConnectException e) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}

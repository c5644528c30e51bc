package io.outrigger.it.lifecycle;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.outrigger.it.harness.FreePorts;
import io.outrigger.it.harness.Http;
import io.outrigger.it.harness.ManagedProcess;
import io.outrigger.it.harness.Poller;
import io.outrigger.it.harness.ProjectLayout;
import io.outrigger.it.harness.RawHttp1;
import io.outrigger.testing.Closer;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A graceful rolling restart of a service behind a real sidecar process loses no request: a registry stub, three
 * fake-service instances of service-b that register with it, and a sidecar that follows the registry. Keep-alive
 * clients send GETs and a trickle of POSTs, each with an id, through the outbound listener while each instance in
 * turn gets SIGTERM (it deregisters, then drains: refuses new connections, answers what it has received with
 * {@code Connection: close}), is started again on its port, and is back in rotation before the next. The instances
 * answer after {@value #LATENCY_MS} ms, so requests are in flight at every SIGTERM: the drain, not luck, saves them.
 * Every request is answered 200 (one access log line each, status 200); each stopped instance reports that its
 * drain cut no request it had read (its log), so no request ran twice; each restarted instance answers again; the
 * sidecar logs no buffer leak (paranoid leak detection).
 *
 * <p>Not asserted: that each POST took one attempt. A POST the sidecar writes on a pooled connection just as the
 * draining instance closes it (idle, from the instance's side) was never read there, and the contract retries it on
 * the reset, to another instance; that is correct, and it makes {@code "attempts": 2} legitimate.
 */
class RollingRestartTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int GET_CLIENTS = 4;
    /** Per GET client: four of them make about 200 requests a second. */
    private static final long GET_PERIOD_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    private static final long POST_PERIOD_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    /** Each instance's --latency-ms: an answer waits this long, so SIGTERM finds requests in flight. */
    private static final int LATENCY_MS = 20;

    @AutoClose
    private final Closer open = new Closer();

    private final AtomicBoolean stop = new AtomicBoolean();
    private final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
    /** Answers per instance id ("service-b-PORT"), from the fake service's echo. */
    private final Map<String, AtomicInteger> answeredBy = new ConcurrentHashMap<>();
    private final AtomicInteger gets = new AtomicInteger();
    private final List<String> postIds = new ArrayList<>();

    @Test
    void aGracefulRollingRestartUnderLoadLosesNoRequest() throws Exception {
        ProjectLayout layout = ProjectLayout.current();
        layout.requireJars();
        Path dir = layout.logDir().resolve("rolling-restart");
        Files.createDirectories(dir);
        Http http = Http.direct();

        int registryPort = FreePorts.next();
        ManagedProcess registry = ManagedProcess.startJava("rr-registry",
                List.of("-jar", layout.registryStubJar().toString(), "registry", "--port", String.valueOf(registryPort)), Map.of(), dir);
        open.add(registry::kill);
        URI catalog = URI.create("http://127.0.0.1:" + registryPort + "/v1/catalog/services");
        registry.awaitReady("catalog answers", WAIT, () -> http.isOk(catalog));

        int[] ports = {FreePorts.next(), FreePorts.next(), FreePorts.next()};
        ManagedProcess[] instances = new ManagedProcess[3];
        for (int i = 0; i < 3; i++) {
            instances[i] = startInstance(layout, dir, "rr-service-b" + i, ports[i], registryPort);
        }

        int admin = FreePorts.next();
        int outbound = FreePorts.next();
        Path config = Files.writeString(dir.resolve("sidecar.yaml"), "name: rr-sidecar\nservice: service-a\n"
                + "registry: http://127.0.0.1:" + registryPort + "\ndrain_ms: 500\n"
                + "listeners:\n  admin: { port: " + admin + " }\n  outbound: { port: " + outbound + " }\n"
                + "resilience:\n  breaker: { failure_threshold: 5, open_ms: 1000, half_open_probes: 1 }\n"
                + "  timeouts: { connect_ms: 1000, request_ms: 5000 }\n"
                + "health: { interval_ms: 250, timeout_ms: 250, unhealthy_after: 3, healthy_after: 1, ejection_ms: 1000 }\n");
        ManagedProcess sidecar = ManagedProcess.startSidecar("rr-sidecar", layout.proxyJar(),
                List.of("-Dio.netty.leakDetection.level=paranoid"), config, admin, dir, WAIT);
        open.add(sidecar::kill);
        URI clusters = URI.create("http://127.0.0.1:" + admin + "/clusters");
        for (int port : ports) {
            awaitInRotation(http, clusters, port);
        }

        List<Thread> clients = new ArrayList<>();
        CountDownLatch started = new CountDownLatch(GET_CLIENTS + 1);
        for (int c = 0; c < GET_CLIENTS; c++) {
            String name = "g" + c;
            clients.add(new Thread(() -> drive(outbound, name, false, started), "rr-" + name));
        }
        clients.add(new Thread(() -> drive(outbound, "p", true, started), "rr-post"));
        clients.forEach(Thread::start);
        assertTrue(started.await(10, TimeUnit.SECONDS), "clients started");
        awaitAnswers(ports, 20); // load flows to every instance before the first restart

        for (int i = 0; i < 3; i++) {
            assertEquals(143, instances[i].stop(WAIT), "service-b-" + ports[i] + " exits on SIGTERM");
            // Every request it read was answered: none cut by the drain's deadline, so no POST it took was
            // resent elsewhere (a resent POST is one the instance never read).
            String stopped = instances[i].logTail(10);
            assertTrue(stopped.contains("requests cut unanswered at the deadline: 0"),
                    "service-b-" + ports[i] + " drained without cutting a request:\n" + stopped);
            // logs to rr-service-bN-2.log: the stopped one's log keeps its drain lines
            instances[i] = startInstance(layout, dir, "rr-service-b" + i, ports[i], registryPort);
            awaitInRotation(http, clusters, ports[i]);
            int before = answers(ports[i]);
            int port = ports[i];
            Poller.awaitTrue("service-b-" + port + " answers again after its restart", WAIT, Duration.ofMillis(20),
                    () -> answers(port) >= before + 20);
        }

        stop.set(true);
        for (Thread t : clients) {
            t.join(WAIT.toMillis());
            assertFalse(t.isAlive(), t.getName() + " ended");
        }
        assertTrue(failures.isEmpty(), failures.size() + " requests failed, the first: " + failures.stream().limit(5).toList());
        assertTrue(gets.get() > 500, "GETs answered: " + gets.get());

        sidecar.terminate();
        assertEquals(Optional.of(0), sidecar.awaitExit(WAIT), "exit code; log:\n" + sidecar.logTail(20));
        List<String> log = Files.readAllLines(sidecar.logFile(), StandardCharsets.UTF_8);
        assertTrue(log.stream().noneMatch(l -> l.contains("LEAK:")), "a buffer leak:\n" + sidecar.logTail(40));
        List<String> postLines = log.stream().filter(l -> l.startsWith("{\"edge\": \"outbound\"") && l.contains("\"method\": \"POST\"")).toList();
        assertEquals(postIds.size(), postLines.size(), "one access log line per POST");
        assertTrue(postLines.stream().allMatch(l -> l.contains("\"status\": 200")),
                "every POST answered 200:\n" + String.join("\n", postLines.stream().filter(l -> !l.contains("\"status\": 200")).toList()));
    }

    private ManagedProcess startInstance(ProjectLayout layout, Path dir, String name, int port, int registryPort) {
        ManagedProcess p = ManagedProcess.startJava(name, List.of("-jar", layout.registryStubJar().toString(),
                "fake-service", "--name", "service-b", "--port", String.valueOf(port),
                "--register", "http://127.0.0.1:" + registryPort, "--check-interval", "250ms",
                "--latency-ms", String.valueOf(LATENCY_MS)), Map.of(), dir);
        open.add(p::kill);
        p.awaitReady("registered", WAIT, () -> p.logTail(20).contains("registered service-b-" + port));
        return p;
    }

    /** Waits until the sidecar routes to the instance on {@code port}: listed, healthy and its breaker closed. */
    private static void awaitInRotation(Http http, URI clusters, int port) {
        Poller.awaitTrue("127.0.0.1:" + port + " healthy with a closed breaker at /clusters", WAIT, Duration.ofMillis(20), () -> {
            Http.Response r = http.get(clusters);
            if (r.status() != 200) {
                return false;
            }
            for (JsonNode x : JSON.readTree(r.body()).path("services").path("service-b").path("instances")) {
                if (x.path("address").asText().equals("127.0.0.1:" + port)) {
                    return x.path("healthy").asBoolean() && x.path("breaker").path("state").asText().equals("closed");
                }
            }
            return false;
        });
    }

    private void awaitAnswers(int[] ports, int atLeast) {
        for (int port : ports) {
            Poller.awaitTrue("answers from service-b-" + port, WAIT, Duration.ofMillis(20), () -> answers(port) >= atLeast);
        }
    }

    private int answers(int port) {
        AtomicInteger n = answeredBy.get("service-b-" + port);
        return n == null ? 0 : n.get();
    }

    /** One keep-alive client: a request every period until {@link #stop}; a failure is noted and the connection opened again. */
    private void drive(int port, String name, boolean post, CountDownLatch started) {
        long period = post ? POST_PERIOD_NANOS : GET_PERIOD_NANOS;
        Socket s = null;
        InputStream in = null;
        started.countDown();
        long next = System.nanoTime();
        for (int seq = 1; !stop.get(); seq++) {
            String id = name + "-" + seq;
            String request = post
                    ? "POST /post/" + id + " HTTP/1.1\r\nHost: service-b\r\nx-request-id: " + id + "\r\nContent-Length: " + id.length() + "\r\n\r\n" + id
                    : "GET /get/" + id + " HTTP/1.1\r\nHost: service-b\r\nx-request-id: " + id + "\r\n\r\n";
            try {
                if (s == null) {
                    s = new Socket("127.0.0.1", port);
                    s.setSoTimeout((int) WAIT.toMillis());
                    in = new BufferedInputStream(s.getInputStream());
                }
                s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
                String answer = RawHttp1.readAnswer(in);
                if (!answer.startsWith("HTTP/1.1 200 ")) {
                    failures.add(id + ": " + answer);
                    s.close();
                    s = null;
                } else {
                    int at = answer.indexOf("\"instance\":\"");
                    if (at >= 0) {
                        String instance = answer.substring(at + 12, answer.indexOf('"', at + 12));
                        answeredBy.computeIfAbsent(instance, k -> new AtomicInteger()).incrementAndGet();
                    }
                    if (post) {
                        synchronized (postIds) {
                            postIds.add(id);
                        }
                    } else {
                        gets.incrementAndGet();
                    }
                }
            } catch (IOException e) {
                failures.add(id + ": " + e);
                try {
                    if (s != null) {
                        s.close();
                    }
                } catch (IOException ignored) {
                    // the test's own socket
                }
                s = null;
            }
            next += period;
            long wait = next - System.nanoTime();
            if (wait > 0) {
                LockSupport.parkNanos(wait); // pacing the load, not synchronisation
            } else {
                next = System.nanoTime();
            }
        }
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // the test's own socket
            }
        }
    }
}

package io.outrigger.it.lifecycle;

import io.outrigger.it.harness.FreePorts;
import io.outrigger.it.harness.ManagedProcess;
import io.outrigger.it.harness.Poller;
import io.outrigger.it.harness.ProjectLayout;
import io.outrigger.registry.fake.Behaviour;
import io.outrigger.registry.fake.FakeService;
import io.outrigger.testing.Closer;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.outrigger.it.harness.RawHttp1.answer;
import static io.outrigger.it.harness.RawHttp1.closeAll;
import static io.outrigger.it.harness.RawHttp1.exchange;
import static io.outrigger.it.harness.RawHttp1.readAnswer;
import static io.outrigger.it.harness.RawHttp1.status;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A sidecar out of file descriptors ({@code ulimit -n 200}, then more client connections than
 * that): it warns about the failed accepts about once a second instead of once per failure (no
 * stack traces, no spinning loop), keeps serving the connections it holds, and accepts again once
 * the extra connections are gone.
 */
@EnabledOnOs(OS.LINUX)
class FdExhaustionTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final int FD_LIMIT = 200;
    private static final int EXTRA_CONNECTIONS = 300;
    @AutoClose
    private final Closer open = new Closer();

    private int adminPort;
    private int outbound;
    private int tcp;
    /** More settings of the {@code http} block, for the next sidecar started. */
    private String httpSettings = "";
    /** The sidecar's {@code registry:}; null: a file listing service-b and service-c at the fake service. */
    private String registrySpec;
    /**
     * The sidecar's {@code ulimit -n}, and its {@code max_connections}: by default a limit far above the
     * descriptors, so that the accepts run into EMFILE; 0 derives it from the open-files limit.
     */
    private int fdLimit = FD_LIMIT;
    private int maxConnections = 1_000_000;

    /**
     * With {@code max_connections} left to its default, derived from the open-files limit, a flood of
     * connections never runs the sidecar out of descriptors: its listeners stop accepting at the limit,
     * the connections it holds are served (with an upstream connection each), and it accepts again
     * once the flood is gone.
     */
    @Test
    void theDefaultConnectionLimitKeepsTheSidecarWithinItsDescriptors() throws Exception {
        fdLimit = 320;
        maxConnections = 0;
        ManagedProcess sidecar = startSidecar("fd-limit", "");
        int derived = (320 - 256) / 2 / 2; // shared by the two traffic listeners, outbound and tcp
        assertTrue(get(adminPort, "/config").contains("\"max_connections\":" + derived), get(adminPort, "/config"));
        assertTrue(log(sidecar).contains("the open-files limit (320) leaves " + derived + " connections per listener"), sidecar.logTail(20));
        try (Socket held = new Socket("127.0.0.1", outbound)) {
            held.setSoTimeout((int) WAIT.toMillis());
            assertEquals(200, exchange(held, "GET /before HTTP/1.1\r\nHost: service-b\r\n\r\n"));
            List<Socket> extra = new ArrayList<>();
            open.add(() -> closeAll(extra));
            for (int i = 0; i < EXTRA_CONNECTIONS; i++) {
                extra.add(new Socket("127.0.0.1", outbound));
            }
            Poller.awaitTrue("the listeners paused at the limit", WAIT, Duration.ofMillis(50),
                    () -> log(sidecar).contains("listener outbound: " + derived + " connections open, its limit (max_connections)"));
            assertTrue(get(adminPort, "/metrics").contains("outrigger_connections_open{listener=\"outbound\",sidecar=\"fd-limit\"} " + derived + ".0"),
                    "the admin listener answers past the limit, and counts the connections");
            // Each accepted connection gets an upstream connection of its own: the descriptors are there for them.
            List<Socket> accepted = extra.subList(0, derived - 1);
            for (Socket s : accepted) {
                s.setSoTimeout((int) WAIT.toMillis());
                s.getOutputStream().write("GET /during HTTP/1.1\r\nHost: service-b\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            }
            for (Socket s : accepted) {
                assertTrue(readAnswer(s.getInputStream()).startsWith("HTTP/1.1 200 "));
            }
            assertEquals(200, exchange(held, "GET /during HTTP/1.1\r\nHost: service-b\r\n\r\n"));
            closeAll(extra);
        }
        Poller.awaitTrue("a new connection served again", WAIT, Duration.ofMillis(100),
                () -> status(outbound, "GET /after HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n", Duration.ofSeconds(3)) == 200);
        assertFalse(log(sidecar).contains("Too many open files"), sidecar.logTail(20));
        assertTrue(sidecar.isAlive());
    }

    @Test
    void acceptFailuresPauseTheListenerAndItRecovers() throws Exception {
        ManagedProcess sidecar = startSidecar("fd-accept", "");
        try (Socket held = new Socket("127.0.0.1", outbound)) {
            held.setSoTimeout((int) WAIT.toMillis());
            assertEquals(200, exchange(held, "GET /before HTTP/1.1\r\nHost: service-b\r\n\r\n"));
            List<Socket> extra = exhaustDescriptors(sidecar, outbound);
            // The connection it holds is still served, over the pooled upstream connection.
            assertEquals(200, exchange(held, "GET /during HTTP/1.1\r\nHost: service-b\r\n\r\n"));
            closeAll(extra);
        }
        Poller.awaitTrue("a new connection served again", WAIT, Duration.ofMillis(100),
                () -> status(outbound, "GET /after HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n", Duration.ofSeconds(3)) == 200);

        String log = log(sidecar);
        long failures = log.lines().filter(l -> l.contains("Too many open files")).count();
        assertTrue(failures >= 1 && failures <= 20, failures + " lines about failed accepts (about one a second expected)");
        assertTrue(log.contains("listener outbound (/127.0.0.1:" + outbound + "): cannot accept a connection"), sidecar.logTail(20));
        assertFalse(log.contains("reached at the tail of the pipeline"), "a stack trace per failed accept:\n" + sidecar.logTail(20));
        assertTrue(sidecar.isAlive());
    }

    /**
     * A sidecar out of descriptors cannot open a socket to the upstream either: the client gets a 502
     * that says so, and the upstream is not blamed (its breaker, at one failure, stays closed).
     */
    @Test
    void anUpstreamSocketItCannotOpenIsNotTheUpstreamsFault() throws Exception {
        ManagedProcess sidecar = startSidecar("fd-connect",
                "resilience: { breaker: { failure_threshold: 1, open_ms: 60000 }, retry: { max_retries: 0 } }\n");
        try (Socket held = new Socket("127.0.0.1", outbound)) {
            held.setSoTimeout((int) WAIT.toMillis());
            assertEquals(404, exchange(held, "GET /warm HTTP/1.1\r\nHost: service-zzz\r\n\r\n")); // accepted, no upstream connection yet
            List<Socket> extra = exhaustDescriptors(sidecar, outbound);
            held.getOutputStream().write("GET /during HTTP/1.1\r\nHost: service-b\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            String answer = readAnswer(held.getInputStream());
            assertTrue(answer.startsWith("HTTP/1.1 502 "), answer);
            assertTrue(answer.contains("too many open files"), answer);
            closeAll(extra);
        }
        Poller.awaitTrue("a new connection served by the same upstream", WAIT, Duration.ofMillis(100),
                () -> status(outbound, "GET /after HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n", Duration.ofSeconds(3)) == 200);
        assertFalse(log(sidecar).contains("CLOSED -> OPEN"), sidecar.logTail(20));
    }

    /**
     * A request refused (body over {@code max_body_bytes}) while its upstream socket could not be
     * opened yet is still answered: the socket Netty never made is not closed (closing it threw, and
     * the client lost its 413 with the connection).
     */
    @Test
    void aRequestRefusedWhileItsUpstreamSocketCannotBeOpenedIsAnswered() throws Exception {
        httpSettings = ", max_body_bytes: 100";
        ManagedProcess sidecar = startSidecar("fd-refused", "resilience: { retry: { max_retries: 0 } }\n");
        try (Socket held = new Socket("127.0.0.1", outbound)) {
            held.setSoTimeout((int) WAIT.toMillis());
            assertEquals(404, exchange(held, "GET /warm HTTP/1.1\r\nHost: service-zzz\r\n\r\n")); // accepted, no upstream connection yet
            List<Socket> extra = exhaustDescriptors(sidecar, outbound);
            // One write: the head starts the exchange (its connect fails at once), the chunk over the limit refuses it.
            String request = "POST /upload HTTP/1.1\r\nHost: service-b\r\nTransfer-Encoding: chunked\r\n\r\nc8\r\n" + "a".repeat(200) + "\r\n";
            assertEquals(413, exchange(held, request), sidecar.logTail(20));
            closeAll(extra);
        }
        assertTrue(sidecar.isAlive());
    }

    /** The same on the TCP relay: its connects that fail for want of descriptors do not open the instance's breaker. */
    @Test
    void aRelayItCannotConnectIsNotTheUpstreamsFault() throws Exception {
        ManagedProcess sidecar = startSidecar("fd-relay",
                "resilience: { breaker: { failure_threshold: 1, open_ms: 60000 }, retry: { max_retries: 0 } }\n");
        List<Socket> extra = exhaustDescriptors(sidecar, tcp);
        closeAll(extra);
        Poller.awaitTrue("a new connection relayed to the same upstream", WAIT, Duration.ofMillis(100),
                () -> status(tcp, "GET /after HTTP/1.1\r\nHost: service-c\r\nConnection: close\r\n\r\n", Duration.ofSeconds(3)) == 200);
        String log = log(sidecar);
        assertTrue(log.contains("too many open files (the sidecar's open-files limit)"), sidecar.logTail(20));
        assertFalse(log.contains("CLOSED -> OPEN"), sidecar.logTail(20));
    }

    /**
     * Active health checks the sidecar cannot make for want of descriptors are skipped, not failed: an
     * instance is not taken out of rotation (healthy_after 1000 would keep it out for 100 s) for the
     * sidecar's own limit. Quietly: a debug line each, no WARN with a stack trace.
     */
    @Test
    void healthChecksItCannotMakeDoNotTakeTheInstanceOut() throws Exception {
        ManagedProcess sidecar = startSidecar("fd-health",
                "health: { interval_ms: 100, timeout_ms: 100, unhealthy_after: 2, healthy_after: 1000 }\n",
                List.of("-Dorg.slf4j.simpleLogger.log.io.outrigger.discovery.ActiveHealthChecker=debug"));
        try (Socket held = new Socket("127.0.0.1", outbound)) {
            held.setSoTimeout((int) WAIT.toMillis());
            assertEquals(200, exchange(held, "GET /route HTTP/1.1\r\nHost: service-b\r\n\r\n")); // service-b is routed: checked
            List<Socket> extra = exhaustDescriptors(sidecar, outbound);
            Poller.awaitTrue("three checks skipped (unhealthy_after is 2)", WAIT, Duration.ofMillis(50),
                    () -> log(sidecar).lines().filter(l -> l.contains("skipped: the sidecar is out of file descriptors")).count() >= 3);
            closeAll(extra);
        }
        int admin = adminPort;
        Poller.awaitTrue("/clusters answers again", WAIT, Duration.ofMillis(100),
                () -> status(admin, "GET /clusters HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n", Duration.ofSeconds(3)) == 200);
        String clusters = answer(admin, "GET /clusters HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n", Duration.ofSeconds(3));
        com.fasterxml.jackson.databind.JsonNode instance = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(clusters.substring(clusters.indexOf("\r\n\r\n") + 4)).path("services").path("service-b").path("instances").path(0);
        assertTrue(instance.path("healthy").asBoolean(false), clusters);
        // Skipped quietly: no stack trace for closing the socket Netty never made.
        assertFalse(log(sidecar).contains("An exception was thrown"), sidecar.logTail(20));
    }

    /**
     * A registry poll the sidecar cannot open a socket for fails like any unreachable registry (its
     * outage WARN, the last known instances kept), without a stack trace from closing Netty's stand-in
     * channel, and the registry is followed again once descriptors are free.
     *
     * <p>The poll that fails is one that needs a descriptor more than the registry's connections give
     * back: a new service in the catalog adds a watch. Re-asking alone may need none: on epoll a query's
     * socket is closed at once when its answer arrives, and the next query's socket gets the descriptor
     * just freed (NIO and io_uring release it a moment later, so there the re-asking query failed too, and
     * this test relied on that).
     */
    @Test
    void registryPollsItCannotMakeLogNoStackTrace() throws Exception {
        io.outrigger.registry.consul.RegistryServer registry = io.outrigger.registry.consul.RegistryServer.start("127.0.0.1", 0, List.of());
        open.add(registry::close);
        java.net.http.HttpClient client = java.net.http.HttpClient.newBuilder().proxy(java.net.http.HttpClient.Builder.NO_PROXY)
                .version(java.net.http.HttpClient.Version.HTTP_1_1).build();
        FakeService upstream = FakeService.start(FakeService.Settings.local("service-b"), new Behaviour(0, 0));
        open.add(upstream::close);
        register(client, registry.port(), "b-1", "service-b", upstream.port());
        registrySpec = "http://127.0.0.1:" + registry.port();
        ManagedProcess sidecar = startSidecar("fd-registry", "");
        try (Socket held = new Socket("127.0.0.1", outbound)) {
            held.setSoTimeout((int) WAIT.toMillis());
            assertEquals(200, exchange(held, "GET /route HTTP/1.1\r\nHost: service-b\r\n\r\n"));
            List<Socket> extra = exhaustDescriptors(sidecar, outbound);
            // The blocking queries return; the catalog's now lists a service more, whose watch needs a socket of its own.
            register(client, registry.port(), "d-1", "service-d", upstream.port());
            Poller.awaitTrue("the registry outage logged", WAIT, Duration.ofMillis(50),
                    () -> log(sidecar).lines().anyMatch(l -> l.contains("registry http://")
                            && l.contains("failed (too many open files (the sidecar's open-files limit))")));
            assertEquals(200, exchange(held, "GET /during HTTP/1.1\r\nHost: service-b\r\n\r\n"), "the last known instances kept");
            closeAll(extra);
        }
        // Every watch answered again (the failing one retried with backoff), and the new service is routed.
        Poller.awaitTrue("the registry followed again", WAIT, Duration.ofMillis(100),
                () -> get(adminPort, "/clusters").contains("\"registry_stale\":false"));
        Poller.awaitTrue("the new service routed", WAIT, Duration.ofMillis(100),
                () -> status(outbound, "GET /after HTTP/1.1\r\nHost: service-d\r\nConnection: close\r\n\r\n", Duration.ofSeconds(3)) == 200);
        String log = log(sidecar);
        assertFalse(log.contains("An exception was thrown"), sidecar.logTail(30));
        assertTrue(log.lines().filter(l -> l.contains("WARN io.outrigger.discovery.ConsulRegistry"))
                .allMatch(l -> l.contains("failed (too many open files (the sidecar's open-files limit))")), sidecar.logTail(30));
    }

    private static void register(java.net.http.HttpClient client, int registryPort, String id, String service, int port) throws Exception {
        java.net.http.HttpResponse<String> res = client.send(java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + registryPort + "/v1/agent/service/register"))
                .timeout(Duration.ofSeconds(5)).PUT(java.net.http.HttpRequest.BodyPublishers.ofString(
                        "{\"ID\":\"" + id + "\",\"Name\":\"" + service + "\",\"Address\":\"127.0.0.1\",\"Port\":" + port + "}"))
                .build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertEquals(200, res.statusCode(), res.body());
    }

    /** A sidecar with an admin, an outbound (port in {@link #outbound}) and a TCP listener (port in {@link #tcp}) under {@code ulimit -n} {@value #FD_LIMIT}, ready. */
    private ManagedProcess startSidecar(String name, String extraYaml) throws Exception {
        return startSidecar(name, extraYaml, List.of());
    }

    /** {@link #startSidecar(String, String)} with more JVM options. */
    private ManagedProcess startSidecar(String name, String extraYaml, List<String> jvmOptions) throws Exception {
        ProjectLayout layout = ProjectLayout.current();
        layout.requireJars();
        FakeService service = FakeService.start(FakeService.Settings.local("service-b"), new Behaviour(0, 0));
        open.add(service::close);
        int admin = FreePorts.next();
        adminPort = admin;
        outbound = FreePorts.next();
        tcp = FreePorts.next();
        Path dir = layout.logDir().resolve("fd-exhaustion");
        Files.createDirectories(dir);
        Path registry = Files.writeString(dir.resolve(name + "-registry.json"),
                "{\"services\": {\"service-b\": [{\"host\": \"127.0.0.1\", \"port\": " + service.port() + "}], "
                + "\"service-c\": [{\"host\": \"127.0.0.1\", \"port\": " + service.port() + "}]}}");
        Path config = Files.writeString(dir.resolve(name + ".yaml"), "name: " + name + "\nservice: service-a\n"
                + "registry: " + (registrySpec != null ? registrySpec : "file:" + registry) + "\nmax_connections: " + maxConnections
                + "\ndrain_ms: 500\nhttp: { access_log: false" + httpSettings + " }\n" + extraYaml
                + "listeners:\n  admin: { port: " + admin + " }\n  outbound: { port: " + outbound + " }\n"
                + "  tcp: [ { port: " + tcp + ", service: service-c } ]\n");
        List<String> java = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        java.addAll(ManagedProcess.COMPONENT_JVM_FLAGS);
        java.addAll(jvmOptions);
        java.addAll(List.of("-jar", layout.proxyJar().toString(), "run", "--config", config.toString()));
        String command = "ulimit -n " + fdLimit + " && exec " + String.join(" ", java);
        ManagedProcess sidecar = ManagedProcess.start(name, List.of("bash", "-c", command), Map.of(), dir);
        open.add(sidecar::kill);
        sidecar.awaitReady("/ready 200", WAIT, () -> status(admin, "GET /ready HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n", Duration.ofSeconds(2)) == 200);
        return sidecar;
    }

    /**
     * Opens {@value #EXTRA_CONNECTIONS} connections to {@code port} (the kernel's backlog takes them; the
     * sidecar's accept(2) fails with EMFILE) and waits for the sidecar to say so; closed at the end of
     * the test if not before.
     */
    private List<Socket> exhaustDescriptors(ManagedProcess sidecar, int port) throws Exception {
        List<Socket> extra = new ArrayList<>();
        open.add(() -> closeAll(extra));
        for (int i = 0; i < EXTRA_CONNECTIONS; i++) {
            extra.add(new Socket("127.0.0.1", port));
        }
        Poller.awaitTrue("accepts failing for want of descriptors", WAIT, Duration.ofMillis(50),
                () -> log(sidecar).contains("Too many open files"));
        return extra;
    }

    /** The whole answer (head and body) to a GET of {@code path} on its own connection. */
    private static String get(int port, String path) throws IOException {
        return answer(port, "GET " + path + " HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n", Duration.ofSeconds(5));
    }

    private static String log(ManagedProcess p) throws IOException {
        return Files.readString(p.logFile(), StandardCharsets.ISO_8859_1);
    }
}

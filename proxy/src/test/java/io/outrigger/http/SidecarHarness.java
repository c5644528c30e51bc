package io.outrigger.http;

import io.outrigger.Sidecar;
import io.outrigger.SidecarContext;
import io.outrigger.config.ConfigLoader;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.metrics.ProxyMetrics;
import io.outrigger.time.Ticker;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/** Starts in-process sidecars on port 0 over a registry file of loopback instances, and speaks raw HTTP to them. */
final class SidecarHarness {
    private SidecarHarness() {
    }

    /** The YAML of a test sidecar: small timeouts and limits so every rule shows within a second. */
    static String yaml(Path registry, String extra) {
        return "name: test-sidecar\n"
                + "service: service-a\n"
                + "registry: file:" + registry + "\n"
                + "io_threads: 2\n"
                + "listeners:\n"
                + "  outbound: { port: 0 }\n"
                + extra;
    }

    static final String RESILIENCE = "resilience:\n"
            + "  breaker: { failure_threshold: 5, open_ms: 200, half_open_probes: 1 }\n"
            + "  retry: { max_retries: 2, base_ms: 1, max_ms: 5, jitter: full, budget_percent: 20 }\n"
            + "  timeouts: { connect_ms: 500, request_ms: 1000 }\n"
            + "http: { header_timeout_ms: 300, max_header_bytes: 4096, max_body_bytes: 1048576, pool_max_idle: 4 }\n"
            // Outlier ejection as short as the breaker's open time, so breaker tests see the instance come back.
            + "health: { ejection_ms: 200 }\n";

    static Path registry(Path dir, String servicesJson) throws IOException {
        Path file = dir.resolve("registry.json");
        Files.writeString(file, "{\"services\": {" + servicesJson + "}}");
        return file;
    }

    static String instance(int port) {
        return "{\"host\": \"127.0.0.1\", \"port\": " + port + "}";
    }

    /**
     * A sidecar ({@link #RESILIENCE} settings) whose registry holds {@code service-b} at {@code upstream}
     * alone, closed by {@code closer}; returns its outbound port.
     */
    static int outboundTo(TestUpstream upstream, Path dir, io.outrigger.testing.Closer closer) throws Exception {
        return outboundTo(upstream.port(), dir, closer);
    }

    /** {@link #outboundTo(TestUpstream, Path, io.outrigger.testing.Closer)} for an upstream listening on {@code upstreamPort}. */
    static int outboundTo(int upstreamPort, Path dir, io.outrigger.testing.Closer closer) throws Exception {
        Sidecar s = closer.add(start(registry(dir, "\"service-b\": [" + instance(upstreamPort) + "]"), RESILIENCE));
        return s.boundPorts().get("outbound");
    }

    static Sidecar start(Path registry, String extraYaml) throws Exception {
        return start(registry, extraYaml, 2);
    }

    static Sidecar start(Path registry, String extraYaml, int ioThreads) throws Exception {
        SidecarConfig cfg = ConfigLoader.parse(yaml(registry, extraYaml).replace("io_threads: 2\n", "io_threads: " + ioThreads + "\n"), "test");
        Sidecar sidecar = new Sidecar(new SidecarContext(cfg, FileRegistry.load(registry), Ticker.system()));
        sidecar.start();
        return sidecar;
    }

    /** A started sidecar ({@link #RESILIENCE} settings) over {@code registry} that reports its exchanges to {@code metrics}. */
    static Sidecar startReportingTo(Path registry, ProxyMetrics metrics) throws Exception {
        Sidecar sidecar = new Sidecar(new SidecarContext(ConfigLoader.parse(yaml(registry, RESILIENCE), "test"),
                FileRegistry.load(registry), Ticker.system(), metrics));
        sidecar.start();
        return sidecar;
    }

    /** Sockets that hold the ports {@link #closedPort()} hands out, for the life of the test JVM. */
    private static final List<Socket> RESERVED = new ArrayList<>();

    /**
     * A loopback port nothing listens on, and nothing will: it is held by a socket bound and never
     * connected or listening, so connections to it are refused and the kernel gives it to no one
     * else (a port merely closed again could be drawn by the next bind to port 0).
     */
    static synchronized int closedPort() throws IOException {
        Socket holder = new Socket();
        holder.bind(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0));
        RESERVED.add(holder);
        return holder.getLocalPort();
    }

    /** Sends raw bytes and reads until the sidecar closes the connection. */
    static String raw(int port, String request) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    /**
     * Sends {@code request} and reads until the sidecar closes the connection, for requests it may
     * refuse early: a write cut short by its close and a reset after its answer are not errors
     * (what it answered is returned); no close within 5 s is a test failure.
     */
    static byte[] rawLenient(int port, byte[] request) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            try {
                s.getOutputStream().write(request);
            } catch (SocketException closedEarly) {
                // the sidecar answered and closed while the rest was still being sent
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            try {
                int n;
                while ((n = s.getInputStream().read(buf)) >= 0) {
                    out.write(buf, 0, n);
                }
            } catch (SocketTimeoutException stuck) {
                String got = out.toString(java.nio.charset.StandardCharsets.ISO_8859_1);
                throw new AssertionError("the connection did not close within 5 s; it had answered "
                        + (got.isEmpty() ? "nothing" : "[" + got.substring(0, Math.min(got.length(), 600)) + "]"));
            } catch (SocketException reset) {
                // a close with unread input is a reset: keep what came before it
            }
            return out.toByteArray();
        }
    }

    static void await(Duration timeout, BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(5); // polling interval of the wait, not a synchronisation
        }
    }

    /**
     * A raw instance on {@code server} for one chunked request: completes the returned future with the request's
     * trailer lines (lower case), then answers with {@code response} (raw bytes) and closes.
     */
    static java.util.concurrent.CompletableFuture<List<String>> recordRequestTrailers(java.net.ServerSocket server, String response) {
        java.util.concurrent.CompletableFuture<List<String>> requestTrailers = new java.util.concurrent.CompletableFuture<>();
        Thread instance = new Thread(() -> {
            try (Socket s = server.accept();
                 java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1))) {
                while (!in.readLine().isEmpty()) {
                    // the request head
                }
                for (int size; (size = Integer.parseInt(in.readLine().trim(), 16)) > 0; ) {
                    in.skip(size + 2); // a chunk and its line end
                }
                List<String> trailers = new ArrayList<>();
                for (String line; !(line = in.readLine()).isEmpty(); ) {
                    trailers.add(line.toLowerCase(java.util.Locale.ROOT));
                }
                requestTrailers.complete(trailers);
                s.getOutputStream().write(response.getBytes(StandardCharsets.ISO_8859_1));
            } catch (IOException | RuntimeException e) {
                requestTrailers.completeExceptionally(e);
            }
        }, "trailer-instance");
        instance.setDaemon(true);
        instance.start();
        return requestTrailers;
    }

    /** A raw upstream: on each connection, answers each bodiless request with {@code answer} of its path, as bytes. */
    static void serveRaw(java.net.ServerSocket server, java.util.concurrent.atomic.AtomicInteger accepted,
                         java.util.function.Function<String, String> answer) {
        acceptEach(server, "raw-instance-connection", s -> {
            accepted.incrementAndGet();
            try (s; java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1))) {
                String line;
                while ((line = in.readLine()) != null) {
                    String path = line.split(" ")[1];
                    while (!(line = in.readLine()).isEmpty()) {
                        // the head's header lines: no body in these GETs
                    }
                    s.getOutputStream().write(answer.apply(path).getBytes(StandardCharsets.ISO_8859_1));
                }
            } catch (IOException | RuntimeException e) {
                // the sidecar closed the connection
            }
        });
    }

    /**
     * Accepts on {@code server} until it is closed, calling {@code serve} on a daemon thread of its own ({@code name})
     * for each connection. Blocks: run it on a thread of its own, or see {@link #acceptOnThread}.
     */
    static void acceptEach(java.net.ServerSocket server, String name, java.util.function.Consumer<Socket> serve) {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                Thread t = new Thread(() -> serve.accept(s), name);
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return; // closed at the end of the test
            }
        }
    }

    /** {@link #acceptEach} on a daemon thread named {@code name + "-acceptor"}; returns {@code server}. */
    static java.net.ServerSocket acceptOnThread(java.net.ServerSocket server, String name, java.util.function.Consumer<Socket> serve) {
        Thread acceptor = new Thread(() -> acceptEach(server, name, serve), name + "-acceptor");
        acceptor.setDaemon(true);
        acceptor.start();
        return server;
    }
}

package io.outrigger.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.outrigger.Sidecar;
import io.outrigger.SidecarContext;
import io.outrigger.config.ConfigLoader;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.Endpoint;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.discovery.Registry;
import io.outrigger.metrics.MicrometerProxyMetrics;
import io.outrigger.resilience.CircuitBreaker;
import io.outrigger.testing.RawHttp;
import io.outrigger.time.Ticker;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The admin endpoints over real HTTP against a sidecar bound on port 0. */
class AdminListenerTest {
    private static final Endpoint B1 = new Endpoint("10.0.1.1", 8080); // documentation only: never contacted
    private static final Endpoint B2 = new Endpoint("10.0.1.2", 8080);
    private static final Endpoint B3 = new Endpoint("10.0.1.3", 8080);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final CompletableFuture<Void> discovered = new CompletableFuture<>();
    private Sidecar sidecar;
    private MicrometerProxyMetrics metrics;

    /** Whether {@link SlowRegistry} reads as in an outage. */
    private volatile boolean registryStale;

    /** A registry whose first answer, and whether it is stale, the test controls. */
    private final class SlowRegistry implements Registry {
        @Override
        public boolean stale() {
            return registryStale;
        }

        private final FileRegistry delegate = new FileRegistry(Map.of("service-b", List.of(B1, B2)), "test:slow");

        @Override
        public List<Endpoint> endpoints(String service) {
            return delegate.endpoints(service);
        }

        @Override
        public boolean contains(String service) {
            return delegate.contains(service);
        }

        @Override
        public Map<Endpoint, String> withheld(String service) {
            return service.equals("service-b") ? Map.of(B3, "registry check critical") : Map.of();
        }

        @Override
        public Set<String> services() {
            return delegate.services();
        }

        @Override
        public CompletableFuture<Void> ready() {
            return discovered;
        }

        @Override
        public String describe() {
            return delegate.describe();
        }
    }

    private int start() throws Exception {
        return start("");
    }

    private int start(String moreListeners) throws Exception {
        return start(moreListeners, Ticker.system());
    }

    private int start(String moreListeners, Ticker ticker) throws Exception {
        return start(moreListeners, ticker, 1);
    }

    private int start(String moreListeners, Ticker ticker, int ioThreads) throws Exception {
        SidecarConfig cfg = ConfigLoader.parse("""
                name: sidecar-t
                io_threads: %d
                listeners:
                  admin: { port: 0 }
                %s
                resilience:
                  breaker: { failure_threshold: 3, open_ms: 60000, half_open_probes: 1 }
                """.formatted(ioThreads, moreListeners), "test");
        metrics = MicrometerProxyMetrics.create(cfg.name());
        SidecarContext context = new SidecarContext(cfg, new SlowRegistry(), ticker, metrics);
        metrics.bindTo(context);
        sidecar = new Sidecar(context);
        sidecar.start();
        return sidecar.boundPorts().get("admin");
    }

    @AfterEach
    void stop() {
        if (sidecar != null) {
            sidecar.close();
        }
    }

    private HttpResponse<String> get(int port, String path) throws Exception {
        return send(port, path, "GET");
    }

    private HttpResponse<String> send(int port, String path, String method) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .method(method, HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(5)).build();
        return http.send(req, HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void readyOnlyAfterDiscoveryAnsweredAndUntilDraining() throws Exception {
        int port = start();
        HttpResponse<String> starting = get(port, "/ready");
        assertEquals(503, starting.statusCode());
        assertEquals("starting", JSON.readTree(starting.body()).get("state").asText());

        discovered.complete(null);
        assertEquals(200, get(port, "/ready").statusCode());

        sidecar.beginDrain();
        HttpResponse<String> draining = get(port, "/ready");
        assertEquals(503, draining.statusCode());
        assertEquals("draining", JSON.readTree(draining.body()).get("state").asText());
    }

    @Test
    void aServiceNotFoundBeforeTheRegistryAnsweredIsUnavailableNotUnknown() throws Exception {
        start("  outbound: { port: 0 }");
        int outbound = sidecar.boundPorts().get("outbound");
        try (RawHttp client = new RawHttp(outbound)) {
            RawHttp.Response before = client.get("service-x", "/");
            assertEquals(503, before.status(), "the registry may yet name it: not a final 404");
            assertTrue(before.body().contains("the registry has not answered yet"), before.body());
            discovered.complete(null);
            assertEquals(404, client.get("service-x", "/").status());
        }
    }

    @Test
    void metricsShowRequestsBreakersAndHealth() throws Exception {
        int port = start();
        SidecarContext ctx = sidecar.context();
        ctx.breakers().forInstance("service-b", B1); // as an exchange takes its instance's breaker before it begins
        ctx.breakers().forInstance("service-b", B2);
        metrics.onExchange("outbound", "service-b", B1, 200, 1, 3_000_000);
        metrics.onExchange("outbound", "service-b", B2, 503, 3, 40_000_000);
        metrics.onRetry("outbound", "service-b");
        metrics.onRetryBudgetExhausted("outbound", "service-b");
        CircuitBreaker breaker = ctx.breakers().forInstance("service-b", B2);
        for (int i = 0; i < 3; i++) {
            breaker.onFailure();
        }
        ctx.health().mark("service-b", B2, false, "3 failed checks");

        HttpResponse<String> res = get(port, "/metrics");
        assertEquals(200, res.statusCode());
        assertTrue(res.headers().firstValue("content-type").orElse("").startsWith("text/plain; version=0.0.4"));
        String body = res.body();
        assertContainsLine(body, "outrigger_requests_total{edge=\"outbound\",instance=\"10.0.1.1:8080\",service=\"service-b\",sidecar=\"sidecar-t\",status_class=\"2xx\"} 1.0");
        assertContainsLine(body, "outrigger_requests_total{edge=\"outbound\",instance=\"10.0.1.2:8080\",service=\"service-b\",sidecar=\"sidecar-t\",status_class=\"5xx\"} 1.0");
        assertContainsLine(body, "outrigger_request_duration_seconds_bucket{edge=\"outbound\",service=\"service-b\",sidecar=\"sidecar-t\",status_class=\"2xx\",le=\"0.005\"} 1");
        assertContainsLine(body, "outrigger_request_duration_seconds_bucket{edge=\"outbound\",service=\"service-b\",sidecar=\"sidecar-t\",status_class=\"5xx\",le=\"0.025\"} 0");
        assertContainsLine(body, "outrigger_attempts_total{edge=\"outbound\",service=\"service-b\",sidecar=\"sidecar-t\"} 4.0");
        assertContainsLine(body, "outrigger_retries_total{edge=\"outbound\",service=\"service-b\",sidecar=\"sidecar-t\"} 1.0");
        assertContainsLine(body, "outrigger_retry_budget_exhausted_total{edge=\"outbound\",service=\"service-b\",sidecar=\"sidecar-t\"} 1.0");
        String b2 = "breaker=\"service-b/10.0.1.2:8080\",instance=\"10.0.1.2:8080\",service=\"service-b\",sidecar=\"sidecar-t\"";
        assertContainsLine(body, "outrigger_breaker_state{" + b2 + ",state=\"open\"} 1.0");
        assertContainsLine(body, "outrigger_breaker_state{" + b2 + ",state=\"closed\"} 0.0");
        assertContainsLine(body, "outrigger_breaker_consecutive_failures{" + b2 + "} 3.0");
        assertContainsLine(body, "outrigger_breaker_transitions_total{" + b2 + ",from=\"closed\",to=\"open\"} 1.0", true);
        assertContainsLine(body, "outrigger_instance_healthy{instance=\"10.0.1.1:8080\",service=\"service-b\",sidecar=\"sidecar-t\"} 1.0");
        assertContainsLine(body, "outrigger_instance_healthy{instance=\"10.0.1.2:8080\",service=\"service-b\",sidecar=\"sidecar-t\"} 0.0");

        // A breaker that closes again is seen at the next scrape.
        breaker.transitionTo(CircuitBreaker.State.CLOSED, "operator");
        assertContainsLine(get(port, "/metrics").body(), "outrigger_breaker_state{" + b2 + ",state=\"closed\"} 1.0");
    }

    private static void assertContainsLine(String body, String line) {
        assertTrue(body.lines().anyMatch(line::equals), () -> "no line\n  " + line + "\nin\n" + body);
    }

    /** Label order within a series is alphabetical; this variant only checks the labels are all there. */
    private static void assertContainsLine(String body, String line, boolean anyLabelOrder) {
        String name = line.substring(0, line.indexOf('{'));
        String value = line.substring(line.lastIndexOf(' ') + 1);
        Set<String> labels = Set.of(line.substring(line.indexOf('{') + 1, line.lastIndexOf('}')).split(","));
        boolean found = body.lines().filter(l -> l.startsWith(name + "{") && l.endsWith(" " + value))
                .anyMatch(l -> Set.of(l.substring(l.indexOf('{') + 1, l.lastIndexOf('}')).split(",")).equals(labels));
        assertTrue(found, () -> "no series " + line + " in\n" + body);
    }

    @Test
    void clustersShowHealthAndABreakerOpenedByFailuresWithItsReason() throws Exception {
        int port = start();
        SidecarContext ctx = sidecar.context();
        for (int i = 0; i < 3; i++) {
            ctx.breakers().forInstance("service-b", B1).onFailure();
        }
        ctx.health().mark("service-b", B2, false, "3 failed checks");

        HttpResponse<String> res = get(port, "/clusters");
        assertEquals(200, res.statusCode());
        JsonNode svc = JSON.readTree(res.body()).get("services").get("service-b");
        assertEquals("closed", svc.get("breaker").get("state").asText());
        JsonNode i1 = svc.get("instances").get(0);
        assertEquals("10.0.1.1:8080", i1.get("address").asText());
        assertTrue(i1.get("healthy").asBoolean());
        assertEquals("open", i1.get("breaker").get("state").asText());
        assertEquals("3 consecutive failures", i1.get("breaker").get("reason").asText());
        assertEquals(3, i1.get("breaker").get("consecutive_failures").asInt());
        JsonNode i2 = svc.get("instances").get(1);
        assertEquals(false, i2.get("healthy").asBoolean());
        assertEquals("3 failed checks", i2.get("health_reason").asText());
        assertEquals("closed", i2.get("breaker").get("state").asText());
        JsonNode i3 = svc.get("instances").get(2);
        assertEquals("10.0.1.3:8080", i3.get("address").asText(), "an instance the registry withholds is listed, after the routable ones");
        assertEquals(false, i3.get("healthy").asBoolean());
        assertEquals("registry check critical", i3.get("health_reason").asText());
        assertEquals(3, svc.get("instances").size());
    }

    /** An open breaker turns half-open only when a call asks; until then /clusters says why it still reads open. */
    @Test
    void clustersSayWhenAnOpenBreakersTimeIsUp() throws Exception {
        java.util.concurrent.atomic.AtomicLong now = new java.util.concurrent.atomic.AtomicLong(System.nanoTime());
        int port = start("", now::get);
        for (int i = 0; i < 3; i++) {
            sidecar.context().breakers().forInstance("service-b", B1).onFailure();
        }
        JsonNode before = JSON.readTree(get(port, "/clusters").body()).get("services").get("service-b").get("instances").get(0);
        assertEquals("3 consecutive failures", before.get("breaker").get("reason").asText());
        now.addAndGet(java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(60_000));
        JsonNode after = JSON.readTree(get(port, "/clusters").body()).get("services").get("service-b").get("instances").get(0);
        assertEquals("open", after.get("breaker").get("state").asText());
        assertEquals("3 consecutive failures; open_ms elapsed, the next call probes", after.get("breaker").get("reason").asText());
        assertEquals(60_000, after.get("breaker").get("for_ms").asLong());
    }

    /** A registry outage is visible where operators look, not only in one log line. */
    @Test
    void clustersAndMetricsShowWhetherTheRegistryIsStale() throws Exception {
        int port = start();
        assertFalse(JSON.readTree(get(port, "/clusters").body()).get("registry_stale").asBoolean());
        assertContainsLine(get(port, "/metrics").body(), "outrigger_registry_stale{sidecar=\"sidecar-t\"} 0.0");
        registryStale = true;
        assertTrue(JSON.readTree(get(port, "/clusters").body()).get("registry_stale").asBoolean());
        assertContainsLine(get(port, "/metrics").body(), "outrigger_registry_stale{sidecar=\"sidecar-t\"} 1.0");
    }

    /** The local app is no registry instance; its breakers, kept by the inbound listener, are shown beside the services. */
    @Test
    void clustersShowTheInboundAppAndItsBreakers() throws Exception {
        assertTrue(JSON.readTree(get(start(), "/clusters").body()).path("inbound").isMissingNode(), "no inbound listener, no entry");
        sidecar.close();
        int port = start("  inbound: { port: 0, app: 127.0.0.1:9 }");
        SidecarContext ctx = sidecar.context();
        Endpoint app = new Endpoint("127.0.0.1", 9);
        String service = ctx.config().service();
        for (int i = 0; i < 3; i++) {
            ctx.breakers().forInstance(service, app).onFailure();
        }
        JsonNode inbound = JSON.readTree(get(port, "/clusters").body()).get("inbound");
        assertEquals(service, inbound.get("service").asText());
        assertEquals("127.0.0.1:9", inbound.get("app").asText());
        assertEquals("open", inbound.get("app_breaker").get("state").asText());
        assertEquals(3, inbound.get("app_breaker").get("consecutive_failures").asInt());
        assertTrue(inbound.path("breaker").isMissingNode(), "the service's breaker is not the inbound edge's");
    }

    @Test
    void configShowsTheIoThreadsInForceWhenTheDefaultChoseThem() throws Exception {
        int port = start("", Ticker.system(), 0);
        JsonNode cfg = JSON.readTree(get(port, "/config").body());
        int threads = 0;
        for (var ignored : sidecar.group()) {
            threads++;
        }
        assertTrue(threads > 0);
        assertEquals(threads, cfg.get("io_threads").asInt(), "the threads in force, not 0 for Netty's default");
    }

    @Test
    void configShowsEffectiveConfigWithYamlKeysAndBoundPorts() throws Exception {
        int port = start("  tcp: [ { port: 0, service: service-b, idle_timeout_ms: 1000 } ]");
        HttpResponse<String> res = get(port, "/config");
        assertEquals(200, res.statusCode());
        JsonNode cfg = JSON.readTree(res.body());
        assertEquals(port, cfg.get("bound_ports").get("admin").asInt());
        assertEquals("sidecar-t", cfg.get("name").asText());
        assertEquals(0, cfg.get("listeners").get("admin").get("port").asInt());
        assertEquals(60000, cfg.get("resilience").get("breaker").get("open_ms").asLong());
        assertEquals(3, cfg.get("resilience").get("breaker").get("failure_threshold").asInt());
        assertEquals("full", cfg.get("resilience").get("retry").get("jitter").asText());
        assertEquals(1, cfg.get("io_threads").asInt());
        assertTrue(cfg.has("drain_ms"), cfg::toString);
        assertEquals(sidecar.connections().maxConnections(), cfg.get("max_connections").asInt(), "the limit in force, not 0");
        assertTrue(cfg.get("max_connections").asInt() > 0, cfg::toString);
        JsonNode tcp = cfg.get("listeners").get("tcp").get(0);
        assertEquals("service-b", tcp.get("service").asText());
        assertEquals(1000, tcp.get("idle_timeout_ms").asLong());
        assertEquals(sidecar.boundPorts().get("tcp:service-b"), cfg.get("bound_ports").get("tcp:service-b").asInt());
        assertTrue(cfg.get("bound_ports").get("tcp:service-b").asInt() > 0);
    }

    @Test
    void unknownPathIs404OtherMethodsAre405() throws Exception {
        int port = start();
        HttpResponse<String> missing = get(port, "/nope");
        assertEquals(404, missing.statusCode());
        assertTrue(JSON.readTree(missing.body()).get("error").asText().contains("/nope"));
        HttpResponse<String> post = send(port, "/ready", "POST");
        assertEquals(405, post.statusCode());
        assertEquals("GET, HEAD", post.headers().firstValue("allow").orElse(""));
        HttpResponse<String> head = send(port, "/ready", "HEAD");
        assertEquals(503, head.statusCode(), "HEAD answers as GET would (still starting here)");
        assertEquals("", head.body());
        assertEquals(200, get(port, "/config?pretty").statusCode()); // a query string does not change the path
    }

    @Test
    void anAbsoluteTargetIsServedEscapedLettersAreDecodedAndABadEscapeIsA404() throws Exception {
        int port = start();
        try (RawHttp client = new RawHttp(port)) {
            client.send("GET http://127.0.0.1/config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
            assertEquals(200, client.read().status(), "RFC 9112 3.2.2: a server accepts the absolute form");
            client.send("GET /%zz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
            RawHttp.Response bad = client.read();
            assertEquals(404, bad.status(), "answered, not left hanging");
            assertEquals(200, client.get("127.0.0.1", "/config").status(), "and the connection still serves");
            assertEquals(200, client.get("127.0.0.1", "/%63onfig").status(), "RFC 3986 6.2.2.2: an escaped unreserved character is that character");
            assertEquals(200, client.get("127.0.0.1", "/confi%67?x=%2F").status());
            assertEquals(404, client.get("127.0.0.1", "/config%2F").status(), "an escaped slash is not decoded");
            assertEquals(404, client.get("127.0.0.1", "/config%6").status(), "a cut-off escape is a path of its own");
        }
    }

    /** Netty's words for a request line it cannot read ("text is empty (possibly HTTP/0.9)") are replaced by what is expected. */
    @Test
    void anUnreadableRequestLineIs400WithAMessageThatSaysWhatIsExpected() throws Exception {
        int port = start();
        for (String line : new String[] {"garbage", "GET /ready", "G@T /ready HTTP/1.1", "\r\nHost: x"}) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
                s.setSoTimeout(5000);
                s.getOutputStream().write((line + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                String reply = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                assertTrue(reply.startsWith("HTTP/1.1 400 "), line + ": " + reply);
                assertTrue(reply.endsWith("{\"error\":\"malformed request line (expected: method, target and HTTP version, "
                        + "such as GET /ready HTTP/1.1)\"}"), line + ": " + reply);
            }
        }
    }

    @Test
    void malformedRequestIs400AndTheListenerStillServes() throws Exception {
        int port = start();
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write("GET /ready HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            String reply = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
            assertTrue(reply.startsWith("HTTP/1.1 400 "), reply);
        }
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(5000);
            s.getOutputStream().write(("GET /ready HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(20_000) + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            String reply = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertTrue(reply.startsWith("HTTP/1.1 431 "), "a header block too large is 431, as on the proxy listeners: " + reply);
            assertTrue(reply.contains("16384 bytes"), "the limit is http.max_header_bytes (default 16384): " + reply);
        }
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(5000);
            s.getOutputStream().write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            String reply = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertTrue(reply.startsWith("HTTP/1.1 505 ") && reply.contains("HTTP/2.0 not supported"), "HTTP/2 prior knowledge: " + reply);
        }
        assertEquals(404, get(port, "/").statusCode());
    }

    /**
     * RFC 9112 3.2: an HTTP/1.1 request without {@code Host}, or any request with two, is a 400 (the proxy listeners
     * refuse two as well); an HTTP/1.0 one needs none. The requests are written with {@code \\r\\n} for CRLF.
     */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "GET /config HTTP/1.1\\r\\nConnection: close\\r\\n\\r\\n|400|an HTTP/1.1 request needs a Host header",
            "GET /config HTTP/1.1\\r\\nHost: a\\r\\nHost: b\\r\\nConnection: close\\r\\n\\r\\n|400|more than one Host header",
            "GET /config HTTP/1.0\\r\\nHost: a\\r\\nHost: b\\r\\n\\r\\n|400|more than one Host header",
            "GET /config HTTP/1.0\\r\\n\\r\\n|200|"})
    void hostIsCheckedAsRfc9112Says(String request, int status, String reason) throws Exception {
        int port = start();
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(5000);
            s.getOutputStream().write(request.replace("\\r\\n", "\r\n").getBytes(StandardCharsets.US_ASCII));
            String reply = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertTrue(reply.startsWith("HTTP/1.1 " + status + " "), request + ": " + reply);
            if (reason != null) {
                assertTrue(reply.contains(reason), request + ": " + reply);
            }
        }
    }

    /** A body, of any size, is read and dropped: the request gets its answer (405 here) and the connection stays usable. */
    @Test
    void aLargeBodyIsDroppedAndTheConnectionServesTheNextRequest() throws Exception {
        int port = start();
        discovered.complete(null);
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(5000);
            byte[] body = new byte[1 << 20];
            java.util.Arrays.fill(body, (byte) 'x');
            OutputStream out = s.getOutputStream();
            out.write(("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.write("GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String reply = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(reply.startsWith("HTTP/1.1 405 ") && reply.contains("\"error\""), reply);
            int second = reply.indexOf("HTTP/1.1 200 ");
            assertTrue(second > 0 && reply.substring(second).contains("{\"state\":\"ready\"}"), "then /ready on the same connection: " + reply);
        }
    }

    /** Host names are the caller's to choose: one meter per name seen would let any client grow the sidecar's memory without bound. */
    @Test
    void requestsForServicesNotInTheRegistryShareOneMetricsLabel() throws Exception {
        int admin = start("  outbound: { port: 0 }\n");
        discovered.complete(null);
        int outbound = sidecar.boundPorts().get("outbound");
        for (int i = 0; i < 20; i++) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", outbound), 5000);
                s.setSoTimeout(5000);
                s.getOutputStream().write(("GET / HTTP/1.1\r\nHost: guess-" + i + "\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                String reply = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertTrue(reply.startsWith("HTTP/1.1 404 ") && reply.contains("\"service\": \"guess-" + i + "\""),
                        "the answer still names what was asked for: " + reply);
            }
        }
        String body = get(admin, "/metrics").body();
        assertFalse(body.contains("guess-"), body);
        assertContainsLine(body, "outrigger_requests_total{edge=\"outbound\",instance=\"none\",service=\"unknown\",sidecar=\"sidecar-t\",status_class=\"4xx\"} 20.0", true);
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        int port = start();
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(5000);
            s.getOutputStream().write(("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            String replies = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            // Bodies carry no line end, so the status lines are found by pattern, not by line.
            List<String> statusLines = java.util.regex.Pattern.compile("HTTP/1\\.1 \\d{3} [A-Za-z ]+").matcher(replies)
                    .results().map(java.util.regex.MatchResult::group).toList();
            assertEquals(List.of("HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found", "HTTP/1.1 503 Service Unavailable"), statusLines);
        }
    }

    /**
     * An HTTP/1.0 client that asks to keep its connection keeps it only when the answer says so (RFC 9112 9.3); the
     * answer without {@code Connection: keep-alive} left it waiting for a close that came only at the idle timeout.
     */
    @Test
    void anHttp10KeepAliveClientIsToldItsConnectionStaysOpen() throws Exception {
        int port = start();
        try (RawHttp client = new RawHttp(port)) {
            client.send("GET /ready HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            RawHttp.Response first = client.read();
            assertEquals(503, first.status());
            assertEquals("keep-alive", first.headers().get("connection"), first.headers().toString());
            client.send("HEAD /config HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            RawHttp.Response head = client.readHead();
            assertEquals(200, head.status());
            assertEquals("keep-alive", head.headers().get("connection"), head.headers().toString());
            client.send("GET /config HTTP/1.0\r\n\r\n");
            RawHttp.Response last = client.read();
            assertEquals(200, last.status(), "the same connection served them all");
            assertTrue(last.closes(), "without keep-alive an HTTP/1.0 connection ends with its answer");
            assertTrue(client.closedByServer());
        }
    }

    @Test
    void aRequestLineTooLongIs414() throws Exception {
        int port = start();
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(5000);
            s.getOutputStream().write(("GET /ready?" + "a".repeat(20_000) + " HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            String reply;
            try {
                reply = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (java.net.SocketException resetAfterTheAnswer) {
                throw new AssertionError("no answer before the close", resetAfterTheAnswer);
            }
            assertTrue(reply.startsWith("HTTP/1.1 414 "), reply);
            assertTrue(reply.contains("request line too long"), reply);
        }
    }

    /**
     * A client that pipelines more requests than the codec keeps unanswered (128) has its connection closed: a
     * client's doing, like a reset, so no WARN line (each such connection wrote one). The answers it got are
     * those of its first requests, in order, and the listener serves on.
     */
    @Test
    void pipeliningPastTheBoundClosesTheConnectionWithoutAWarning() throws Exception {
        int port = start();
        int n = 3000;
        StringBuilder requests = new StringBuilder();
        for (int i = 0; i < n; i++) {
            requests.append(i % 2 == 0 ? "GET /ready" : "GET /nope").append(" HTTP/1.1\r\nHost: x\r\n\r\n");
        }
        java.io.PrintStream stderr = System.err;
        java.io.ByteArrayOutputStream logged = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(logged, true, StandardCharsets.UTF_8)); // slf4j-simple looks System.err up per line
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(20_000);
            java.util.concurrent.CompletableFuture.runAsync(() -> {
                try {
                    s.getOutputStream().write(requests.toString().getBytes(StandardCharsets.US_ASCII));
                } catch (java.io.IOException closedBySidecar) {
                    // the bound closed the connection while the rest was sent
                }
            });
            java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
            try {
                s.getInputStream().transferTo(got);
            } catch (java.net.SocketException reset) {
                // closed with requests unread: what came before the reset is kept
            }
            List<String> codes = java.util.regex.Pattern.compile("HTTP/1\\.1 (\\d{3}) ").matcher(got.toString(StandardCharsets.UTF_8))
                    .results().map(m -> m.group(1)).toList();
            for (int i = 0; i < codes.size(); i++) {
                assertEquals(i % 2 == 0 ? "503" : "404", codes.get(i), "answer " + i);
            }
            assertEquals(503, get(port, "/ready").statusCode(), "the listener serves on");
        } finally {
            System.setErr(stderr);
        }
        String log = logged.toString(StandardCharsets.UTF_8);
        assertFalse(log.contains("WARN"), log);
    }

    /**
     * A client that resets its connection with answers still to come (a scraper's timeout) is normal traffic: it
     * wrote a WARN line each time, so any client could fill the log. It is a DEBUG line now, as on the other listeners.
     */
    @Test
    void aClientResetIsNoWarning() throws Exception {
        int port = start();
        java.io.PrintStream stderr = System.err;
        java.io.ByteArrayOutputStream logged = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(logged, true, StandardCharsets.UTF_8)); // slf4j-simple looks System.err up per line
        try {
            for (int i = 0; i < 3; i++) {
                try (Socket s = new Socket()) {
                    s.setReceiveBufferSize(1024);
                    s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
                    s.getOutputStream().write("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(20).getBytes(StandardCharsets.US_ASCII));
                    s.getInputStream().read(); // an answer is under way
                    s.setSoLinger(true, 0); // the close resets the connection
                }
            }
            io.outrigger.testing.Await.until("the reset connections to close", Duration.ofSeconds(10), () -> {
                try {
                    return get(port, "/metrics").body().contains("outrigger_connections_open{listener=\"admin\",sidecar=\"sidecar-t\"} 1.0");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
        } finally {
            System.setErr(stderr);
        }
        String log = logged.toString(StandardCharsets.UTF_8);
        assertFalse(log.contains("WARN"), log);
    }
}

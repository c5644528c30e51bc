package io.outrigger.http;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.outrigger.Sidecar;
import io.outrigger.discovery.Endpoint;
import io.outrigger.resilience.CircuitBreaker;
import io.outrigger.testing.Closer;
import io.outrigger.trace.TraceParent;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static io.outrigger.http.SidecarHarness.RESILIENCE;
import static io.outrigger.http.SidecarHarness.instance;
import static io.outrigger.http.SidecarHarness.raw;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The outbound HTTP listener against real upstream servers on loopback: routing, tracing, retries, breaker, timeouts, pooling. */
class HttpProxyTest {
    @TempDir
    Path dir;

    @AutoClose
    private final Closer closeables = new Closer();

    private TestUpstream upstream() throws InterruptedException {
        return closeables.add(new TestUpstream());
    }

    private int sidecar(String servicesJson) throws Exception {
        return sidecar(servicesJson, RESILIENCE);
    }

    private int sidecar(String servicesJson, String yaml) throws Exception {
        Sidecar s = SidecarHarness.start(SidecarHarness.registry(dir, servicesJson), yaml);
        closeables.add(s);
        return s.boundPorts().get("outbound");
    }

    /** RESILIENCE with a read timeout of 200 ms per attempt and a whole-exchange deadline of 3 s. */
    private static final String READ_TIMEOUT = RESILIENCE.replace("timeouts: { connect_ms: 500, request_ms: 1000 }",
            "timeouts: { connect_ms: 500, request_ms: 3000, read_ms: 200 }");

    private HttpClient proxyClient(int port) {
        return HttpClient.newBuilder().proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", port)))
                .connectTimeout(Duration.ofSeconds(2)).build();
    }

    private static HttpResponse<String> get(HttpClient client, String url, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void routesByHostHeaderAndCreatesTraceHeaders() throws Exception {
        TestUpstream b = upstream();
        int port = sidecar("\"service-b\": [" + instance(b.port()) + "]");

        String res = raw(port, "GET /api/users/123 HTTP/1.1\r\nHost: service-b:8080\r\nConnection: close\r\n\r\n");

        assertTrue(res.startsWith("HTTP/1.1 200"), res);
        assertTrue(res.contains("\"port\": " + b.port()), res);
        TestUpstream.Seen seen = b.requests.poll();
        assertEquals("/api/users/123", seen.uri());
        TraceParent tp = TraceParent.parse(seen.headers().get("traceparent"));
        assertTrue(tp != null, "traceparent sent upstream");
        String requestId = seen.headers().get("x-request-id");
        assertEquals(36, requestId.length());
        assertTrue(res.toLowerCase().contains("x-request-id: " + requestId), res);
        assertTrue(res.contains("traceparent: " + tp.format()), res);
        assertEquals("127.0.0.1", seen.headers().get("x-forwarded-for"));
        assertEquals("1.1 test-sidecar", seen.headers().get("via"));
    }

    /**
     * Via names the protocol of the message as this hop received it (RFC 9110 7.6.3): an HTTP/1.0 caller's
     * request goes on as HTTP/1.1 with {@code 1.0} in its Via, and so does an HTTP/1.0 instance's answer.
     */
    @Test
    void viaNamesTheProtocolEachMessageCameIn() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread instance = new Thread(() -> SidecarHarness.serveRaw(server, new AtomicInteger(),
                    path -> path.equals("/old") ? "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
                            : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), "via-instance");
            instance.setDaemon(true);
            instance.start();
            int port = sidecar("\"service-b\": [" + instance(server.getLocalPort()) + "]");

            String fromOld = raw(port, "GET /old HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n");
            assertTrue(fromOld.startsWith("HTTP/1.1 200") && fromOld.contains("\r\nvia: 1.0 test-sidecar\r\n"), fromOld);
        }
        TestUpstream b = upstream();
        int port = sidecar("\"service-b\": [" + instance(b.port()) + "]");
        String res = raw(port, "GET /new HTTP/1.0\r\nHost: service-b\r\n\r\n");
        assertTrue(res.startsWith("HTTP/1.1 200") && res.contains("\r\nvia: 1.1 test-sidecar\r\n"), res);
        assertEquals("1.0 test-sidecar", b.requests.poll().headers().get("via"));
    }

    @Test
    void routesByProxyFormAndContinuesTrace() throws Exception {
        TestUpstream b = upstream();
        int port = sidecar("\"service-b\": [" + instance(b.port()) + "]");
        String incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

        HttpResponse<String> res = get(proxyClient(port), "http://service-b/api/users/123?x=1",
                "traceparent", incoming, "x-request-id", "req-42");

        assertEquals(200, res.statusCode());
        TestUpstream.Seen seen = b.requests.poll();
        assertEquals("/api/users/123?x=1", seen.uri());
        TraceParent sent = TraceParent.parse(seen.headers().get("traceparent"));
        assertEquals("4bf92f3577b34da6a3ce929d0e0e4736", sent.traceId());
        assertNotEquals("00f067aa0ba902b7", sent.parentId());
        assertEquals("req-42", seen.headers().get("x-request-id"));
        assertEquals("req-42", res.headers().firstValue("x-request-id").orElseThrow());
        assertEquals(sent.format(), res.headers().firstValue("traceparent").orElseThrow());
    }

    @Test
    void resolvesInstanceHostNamesWithoutBlocking() throws Exception {
        TestUpstream b = upstream();
        // The first lookup also sets the resolver up (its hosts file, its channel): on a loaded machine that once took
        // longer than RESILIENCE's 1 s deadline, so this test allows 10 s.
        int port = sidecar("\"service-b\": [{\"host\": \"localhost\", \"port\": " + b.port() + "}]",
                RESILIENCE.replace("request_ms: 1000", "request_ms: 10000"));

        assertEquals(200, get(proxyClient(port), "http://service-b/by-name").statusCode());
        assertEquals("/by-name", b.requests.poll().uri());
    }

    @Test
    void noHealthyInstanceIs503AndNotBlamedOnTheBreaker() throws Exception {
        TestUpstream b = upstream();
        Sidecar s = SidecarHarness.start(SidecarHarness.registry(dir, "\"service-b\": [" + instance(b.port()) + "]"), RESILIENCE);
        closeables.add(s);
        s.context().health().mark("service-b", new Endpoint("127.0.0.1", b.port()), false, "test says so");

        HttpResponse<String> res = get(proxyClient(s.boundPorts().get("outbound")), "http://service-b/x");

        assertEquals(503, res.statusCode());
        assertEquals("{\"error\": \"no healthy instance\", \"service\": \"service-b\"}", res.body().trim());
        assertTrue(res.headers().firstValue("x-outrigger-breaker").isEmpty());
        assertEquals(0, b.requestCount());
    }

    @Test
    void unknownServiceIs404WithJsonBody() throws Exception {
        TestUpstream b = upstream();
        int port = sidecar("\"service-b\": [" + instance(b.port()) + "]");

        HttpResponse<String> res = get(proxyClient(port), "http://service-zzz/x");

        assertEquals(404, res.statusCode());
        assertEquals("{\"error\": \"unknown service\", \"service\": \"service-zzz\"}", res.body().trim());
        assertTrue(res.headers().firstValue("x-request-id").isPresent());
    }

    /** A sidecar for service-b with two instances: the first refuses connections (port {@code dead}), the second is {@code b}. */
    private Sidecar sidecarWithRefusingFirstInstance(int dead, TestUpstream b) throws Exception {
        return closeables.add(SidecarHarness.start(
                SidecarHarness.registry(dir, "\"service-b\": [" + instance(dead) + ", " + instance(b.port()) + "]"), RESILIENCE));
    }

    private static void assertFirstAttemptsWentToRefusingInstance(Sidecar s, int dead) {
        CircuitBreaker deadBreaker = s.context().breakers().findInstance("service-b", new Endpoint("127.0.0.1", dead));
        assertTrue(deadBreaker != null && deadBreaker.snapshot().consecutiveFailures() >= 1,
                "round robin sent first attempts to the refusing instance, and they were retried: " + deadBreaker);
    }

    @Test
    void retriesOntoSecondInstanceWhenFirstRefuses() throws Exception {
        TestUpstream b = upstream();
        int dead = SidecarHarness.closedPort();
        Sidecar s = sidecarWithRefusingFirstInstance(dead, b);
        HttpClient client = proxyClient(s.boundPorts().get("outbound"));

        for (int i = 0; i < 6; i++) {
            HttpResponse<String> res = client.send(HttpRequest.newBuilder(URI.create("http://service-b/p")).timeout(Duration.ofSeconds(5))
                    .POST(HttpRequest.BodyPublishers.ofString("hello")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, res.statusCode(), "request " + i);
            assertTrue(res.body().contains("\"bytes\": 5"), res.body());
        }
        assertEquals(6, b.requestCount());
        assertFirstAttemptsWentToRefusingInstance(s, dead);
    }

    /**
     * An upload too large for the retry buffer, sent with {@code Expect: 100-continue}: its client holds the
     * body back until the {@code 100 Continue}, which the sidecar sends once an instance's connection is open,
     * so a refused connection loses no body byte and the upload goes to the other instance whole.
     */
    @Test
    void aLargeUploadThatExpects100ContinueIsRetriedOntoSecondInstanceWhenFirstRefuses() throws Exception {
        TestUpstream b = upstream();
        int dead = SidecarHarness.closedPort();
        Sidecar s = sidecarWithRefusingFirstInstance(dead, b);
        HttpClient client = proxyClient(s.boundPorts().get("outbound"));
        byte[] upload = new byte[1_000_000]; // above the 64 KiB retry buffer, within max_body_bytes

        for (int i = 0; i < 4; i++) {
            HttpResponse<String> res = client.send(HttpRequest.newBuilder(URI.create("http://service-b/upload")).timeout(Duration.ofSeconds(5))
                    .expectContinue(true).POST(HttpRequest.BodyPublishers.ofByteArray(upload)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, res.statusCode(), "request " + i + ": " + res.body());
            assertTrue(res.body().contains("\"bytes\": 1000000"), res.body());
        }
        assertEquals(4, b.requestCount());
        for (TestUpstream.Seen seen : b.requests) {
            assertEquals(1_000_000, seen.bodyBytes());
        }
        assertFirstAttemptsWentToRefusingInstance(s, dead);
    }

    @Test
    void noRetryOfPostAnswered503ButGetIsRetried() throws Exception {
        TestUpstream b = upstream();
        b.status = 503;
        int port = sidecar("\"service-b\": [" + instance(b.port()) + "]");
        HttpClient client = proxyClient(port);

        HttpResponse<String> post = client.send(HttpRequest.newBuilder(URI.create("http://service-b/p")).timeout(Duration.ofSeconds(5))
                .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(503, post.statusCode());
        assertTrue(post.body().contains("\"port\""), "the upstream's own answer: " + post.body());
        assertEquals(1, b.requestCount());

        HttpResponse<String> get = get(client, "http://service-b/p");
        assertEquals(503, get.statusCode());
        assertEquals(1 + 3, b.requestCount(), "GET tried once and retried max_retries=2 times");
    }

    @Test
    void breakerOpensFailsFastProbesAndCloses() throws Exception {
        TestUpstream b = upstream();
        b.status = 500;
        // open_ms 2 s: the fail-fast request must come while the breaker is still open, also on a slow machine.
        int port = sidecar("\"service-b\": [" + instance(b.port()) + "]", RESILIENCE.replace("open_ms: 200", "open_ms: 2000"));
        HttpClient client = proxyClient(port);

        for (int i = 0; i < 5; i++) {
            assertEquals(500, get(client, "http://service-b/p").statusCode());
        }
        HttpResponse<String> open = get(client, "http://service-b/p");
        assertEquals(503, open.statusCode());
        assertEquals("open", open.headers().firstValue("x-outrigger-breaker").orElseThrow());
        assertTrue(open.body().contains("circuit breaker open"), open.body());
        assertEquals(5, b.requestCount(), "fail fast: nothing reached the upstream");

        b.status = 200;
        SidecarHarness.await(Duration.ofSeconds(6), () -> {
            try {
                return get(client, "http://service-b/p").statusCode() == 200;
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        }, "a half-open probe to close the breaker");
        for (int i = 0; i < 3; i++) {
            assertEquals(200, get(client, "http://service-b/p").statusCode());
        }
    }

    @Test
    void slowUpstreamTimesOutWith504WithinRequestDeadline() throws Exception {
        TestUpstream b = upstream();
        b.delayMillis = 3000;
        int port = sidecar("\"service-b\": [" + instance(b.port()) + "]");

        long start = System.nanoTime();
        HttpResponse<String> res = get(proxyClient(port), "http://service-b/slow");
        long millis = (System.nanoTime() - start) / 1_000_000;

        assertEquals(504, res.statusCode());
        assertTrue(res.body().contains("upstream timed out"), res.body());
        assertTrue(millis >= 900 && millis < 2500, "took " + millis + " ms (request_ms 1000)");
    }

    @Test
    void aGetWithoutAResponseHeadWithinReadMsIsRetriedOnAnotherInstance() throws Exception {
        assertTrue(READ_TIMEOUT.contains("read_ms: 200"), READ_TIMEOUT);
        TestUpstream slow = upstream();
        TestUpstream fast = upstream();
        slow.delayMillis = 5000;
        int port = sidecar("\"service-b\": [" + instance(slow.port()) + ", " + instance(fast.port()) + "]", READ_TIMEOUT);
        HttpClient client = proxyClient(port);
        for (int i = 0; i < 4; i++) {
            long start = System.nanoTime();
            HttpResponse<String> res = get(client, "http://service-b/r" + i);
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertEquals(200, res.statusCode(), res.body());
            assertTrue(res.body().contains("\"port\": " + fast.port()), res.body());
            assertTrue(millis < 2000, "took " + millis + " ms: read_ms 200 should have moved on, not request_ms 3000");
        }
        assertTrue(slow.requestCount() >= 1, "round robin sent some first attempts to the slow instance");
        assertEquals(4, fast.requestCount());
    }

    /**
     * An instance that keeps sending {@code 102 Processing} (passed on to the caller) has answered: read_ms,
     * whose purpose is a retry on another instance, can no longer retry, and must not cut it with a 504 after
     * the interim answers; request_ms bounds it.
     */
    @Test
    void readMsDoesNotCutAnAttemptWhoseInterimAnswerWasPassedOn() throws Exception {
        assertTrue(READ_TIMEOUT.contains("read_ms: 200") && READ_TIMEOUT.contains("request_ms: 3000"), READ_TIMEOUT);
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            slowInstance(server, "processing-instance", (s, in) -> {
                for (int i = 0; i < 4; i++) {
                    s.getOutputStream().write("HTTP/1.1 102 Processing\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                    s.getOutputStream().flush();
                    Thread.sleep(150); // the instance at work: 600 ms in all, three times read_ms
                }
            });
            int port = sidecar("\"service-b\": [" + instance(server.getLocalPort()) + "]", READ_TIMEOUT);

            String res = raw(port, "GET /work HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n");

            assertTrue(res.startsWith("HTTP/1.1 102 Processing\r\n"), res);
            assertFalse(res.contains("HTTP/1.1 504"), res); // not "504": the random ids may hold it
            assertTrue(res.contains("HTTP/1.1 200 OK\r\n") && res.endsWith("\r\n\r\ndone"), res);
        }
    }

    /** The same when the interim answer came while the body still streamed: read_ms is not armed at the body's end. */
    @Test
    void readMsDoesNotStartAfterAnInterimAnswerPassedOnDuringTheUpload() throws Exception {
        assertTrue(READ_TIMEOUT.contains("read_ms: 200") && READ_TIMEOUT.contains("request_ms: 3000"), READ_TIMEOUT);
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            slowInstance(server, "early-hints-instance", (s, in) -> {
                s.getOutputStream().write("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                        .getBytes(StandardCharsets.ISO_8859_1));
                s.getOutputStream().flush();
                String line;
                while ((line = in.readLine()) != null && !line.equals("0")) {
                    // the chunked body, up to its last chunk
                }
                in.readLine(); // the empty line after it
                Thread.sleep(600); // the instance at work: three times read_ms
            });
            int port = sidecar("\"service-b\": [" + instance(server.getLocalPort()) + "]", READ_TIMEOUT);

            try (Socket c = new Socket("127.0.0.1", port)) {
                c.setSoTimeout(5000);
                c.getOutputStream().write(("PUT /upload HTTP/1.1\r\nHost: service-b\r\nTransfer-Encoding: chunked\r\n"
                        + "Connection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
                c.getOutputStream().flush();
                StringBuilder got = new StringBuilder();
                java.io.InputStream in = c.getInputStream();
                while (!got.toString().contains("\r\n\r\n")) { // the 103, passed on before the body is sent
                    int b = in.read();
                    assertTrue(b >= 0, got::toString);
                    got.append((char) b);
                }
                assertTrue(got.toString().startsWith("HTTP/1.1 103 Early Hints\r\n"), got::toString);
                c.getOutputStream().write("5\r\nhello\r\n0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                c.getOutputStream().flush();
                String res = got + new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);

                assertFalse(res.contains("HTTP/1.1 504"), res);
                assertTrue(res.contains("HTTP/1.1 200 OK\r\n") && res.endsWith("\r\n\r\ndone"), res);
            }
        }
    }

    /** What a fake instance does between reading a request head and answering {@code 200 done}. */
    private interface InstanceWork {
        void run(Socket s, java.io.BufferedReader in) throws IOException, InterruptedException;
    }

    /**
     * A fake instance on {@code server}, for one connection: reads the request head, does {@code work}, answers
     * {@code 200} with the body {@code done}, then waits for the sidecar to close.
     */
    private static void slowInstance(ServerSocket server, String name, InstanceWork work) {
        Thread instance = new Thread(() -> {
            try (Socket s = server.accept(); java.io.BufferedReader in = new java.io.BufferedReader(
                    new java.io.InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1))) {
                String line;
                while ((line = in.readLine()) != null && !line.isEmpty()) {
                    // the request head
                }
                work.run(s, in);
                s.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone".getBytes(StandardCharsets.ISO_8859_1));
                s.getOutputStream().flush();
                in.readLine(); // until the sidecar closes
            } catch (IOException | InterruptedException e) {
                // the sidecar closed the connection, or the test ended
            }
        }, name);
        instance.setDaemon(true);
        instance.start();
    }

    @Test
    void aPostWithoutAResponseHeadWithinReadMsIs504AndNotReplayed() throws Exception {
        TestUpstream slow = upstream();
        slow.delayMillis = 5000;
        int port = sidecar("\"service-b\": [" + instance(slow.port()) + "]", READ_TIMEOUT);
        long start = System.nanoTime();
        HttpResponse<String> res = proxyClient(port).send(HttpRequest.newBuilder(URI.create("http://service-b/order"))
                .timeout(Duration.ofSeconds(5)).POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertEquals(504, res.statusCode());
        assertTrue(res.body().contains("upstream timed out"), res.body());
        assertTrue(millis >= 190 && millis < 2000, "took " + millis + " ms (read_ms 200, request_ms 3000)");
        assertEquals(1, slow.requestCount(), "a POST is never sent twice");
    }

    @Test
    void eachRequestOnAKeepAliveConnectionGetsItsWholeDeadline() throws Exception {
        TestUpstream b = upstream();
        int port = sidecar("\"service-b\": [" + instance(b.port()) + "]");
        HttpClient client = proxyClient(port);
        b.delayMillis = 500;
        assertEquals(200, get(client, "http://service-b/first").statusCode());

        // The connection's deadline timer was armed by the first request; it must re-arm for the second's own deadline.
        b.delayMillis = 3000;
        long start = System.nanoTime();
        HttpResponse<String> res = get(client, "http://service-b/second");
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertEquals(504, res.statusCode());
        assertTrue(millis >= 900 && millis < 2500, "took " + millis + " ms (request_ms 1000, counted from this request)");
    }

    @Test
    void keepAliveReusesPooledUpstreamConnections() throws Exception {
        TestUpstream b = upstream();
        int port = sidecar("\"service-b\": [" + instance(b.port()) + "]");
        HttpClient client = proxyClient(port);

        for (int i = 0; i < 1000; i++) {
            assertEquals(200, get(client, "http://service-b/r" + i).statusCode());
        }

        assertEquals(1000, b.requestCount());
        assertTrue(b.connections.get() <= 4, "upstream connections: " + b.connections.get() + " (pool_max_idle 4)");
    }

    @Test
    void hopByHopHeadersAreStrippedBothWays() throws Exception {
        TestUpstream b = upstream();
        b.extraResponseHeaders = new DefaultHttpHeaders().add("Connection", "x-hop-res").add("x-hop-res", "1")
                .add("Keep-Alive", "timeout=5").add("x-end-to-end", "yes");
        int port = sidecar("\"service-b\": [" + instance(b.port()) + "]");

        String res = raw(port, "GET / HTTP/1.1\r\nHost: service-b\r\nConnection: close, x-hop-req\r\nx-hop-req: 1\r\n"
                + "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nUpgrade: websocket\r\n"
                + "x-keep: kept\r\n\r\n");

        TestUpstream.Seen seen = b.requests.poll();
        for (String h : new String[] {"x-hop-req", "keep-alive", "proxy-connection", "te", "upgrade", "connection", "transfer-encoding"}) {
            assertNull(seen.headers().get(h), h + " must not be forwarded");
        }
        assertEquals("kept", seen.headers().get("x-keep"));
        String lower = res.toLowerCase();
        assertTrue(lower.startsWith("http/1.1 200"), res);
        assertFalse(lower.contains("x-hop-res"), res);
        assertFalse(lower.contains("keep-alive:"), res);
        assertTrue(lower.contains("x-end-to-end: yes"), res);
    }

    @Test
    void hostNamesMatchInAnyCaseAndWithTheRootsDot() throws Exception {
        TestUpstream b = upstream();
        int port = sidecar("\"service-b\": [" + instance(b.port()) + "]");
        for (String host : new String[] {"SERVICE-B", "Service-B.", "service-b.:8080"}) {
            String res = raw(port, "GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
            assertTrue(res.startsWith("HTTP/1.1 200"), host + ": " + res);
        }
        assertEquals(3, b.requestCount());
    }

    /**
     * A response in a transfer coding the sidecar would drop while re-framing (gzip under chunked) is a
     * bad response; and since the instance did answer, a POST is not sent to it again, a GET is retried.
     */
    @Test
    void anUpstreamResponseWithATransferCodingOtherThanChunkedIs502() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            AtomicInteger accepted = new AtomicInteger();
            AtomicInteger answered = new AtomicInteger();
            Thread acceptor = new Thread(() -> SidecarHarness.serveRaw(server, accepted, path -> {
                answered.incrementAndGet();
                return "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
            }), "gzip-upstream");
            acceptor.setDaemon(true);
            acceptor.start();
            int port = sidecar("\"service-b\": [" + instance(server.getLocalPort()) + "]");

            String post = raw(port, "POST / HTTP/1.1\r\nHost: service-b\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            assertTrue(post.startsWith("HTTP/1.1 502") && post.contains("malformed response"), post);
            assertEquals(1, answered.get(), "the instance answered: a POST is not sent again");
            String get = raw(port, "GET / HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n");
            assertTrue(get.startsWith("HTTP/1.1 502"), get);
            assertEquals(1 + 3, answered.get(), "a GET is retried (max_retries 2)");
        }
    }

    /**
     * A trailer section belongs to its hop as much as the head does: hop-by-hop fields in it (here
     * {@code Connection}, {@code Keep-Alive} and a field {@code Connection} names) are dropped both ways,
     * and the others go on.
     */
    @Test
    void hopByHopFieldsInTrailersAreDroppedBothWays() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            java.util.concurrent.CompletableFuture<List<String>> requestTrailers = SidecarHarness.recordRequestTrailers(server,
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                    + "5\r\nhello\r\n0\r\nX-Sum: 42\r\nConnection: x-hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n\r\n");
            int port = sidecar("\"service-b\": [" + instance(server.getLocalPort()) + "]");

            String res = raw(port, "POST / HTTP/1.1\r\nHost: service-b\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                    + "3\r\nabc\r\n0\r\nX-Req-Sum: 7\r\nConnection: x-req-hop\r\nX-Req-Hop: 1\r\nKeep-Alive: timeout=5\r\n\r\n");

            assertEquals(List.of("x-req-sum: 7"), requestTrailers.get(5, java.util.concurrent.TimeUnit.SECONDS));
            assertTrue(res.startsWith("HTTP/1.1 200"), res);
            String trailer = res.substring(res.indexOf("\r\n0\r\n") + 5);
            assertEquals("X-Sum: 42\r\n\r\n", trailer, res);
        }
    }

    /** The caller's X-Forwarded-For, however many lines it came in, reaches the upstream whole, with the caller's address last. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "X-Forwarded-For: 10.0.0.1\\r\\n                                   | 10.0.0.1, 127.0.0.1",
        "X-Forwarded-For: 10.0.0.1\\r\\nX-Forwarded-For: 10.0.0.2\\r\\n     | 10.0.0.1, 10.0.0.2, 127.0.0.1",
        "X-Forwarded-For: 10.0.0.1, 10.0.0.2\\r\\n                         | 10.0.0.1, 10.0.0.2, 127.0.0.1",
        "X-Forwarded-For: \\r\\nX-Forwarded-For: 10.0.0.2\\r\\n               | 10.0.0.2, 127.0.0.1",
        "X-Forwarded-For: \\r\\n                                           | 127.0.0.1",
    })
    void xForwardedForKeepsEveryLineAndAddsTheCaller(String lines, String expected) throws Exception {
        TestUpstream b = upstream();
        int port = sidecar("\"service-b\": [" + instance(b.port()) + "]");
        String res = raw(port, "GET /xff HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n" + lines.strip().replace("\\r\\n", "\r\n") + "\r\n");
        assertTrue(res.startsWith("HTTP/1.1 200"), res);
        assertEquals(List.of(expected), b.requests.poll().headers().getAll("x-forwarded-for"));
    }

    /** A caller that names Host or the trace headers in Connection still gets them forwarded: the sidecar's own additions are not its to remove. */
    @Test
    void connectionOptionsCannotRemoveHostOrTheTraceHeaders() throws Exception {
        TestUpstream b = upstream();
        int port = sidecar("\"service-b\": [" + instance(b.port()) + "]");
        String incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

        String res = raw(port, "GET /t HTTP/1.1\r\nHost: service-b\r\nConnection: close, host, traceparent, x-request-id, x-forwarded-for, via\r\n"
                + "traceparent: " + incoming + "\r\nx-request-id: req-7\r\n\r\n");

        assertTrue(res.startsWith("HTTP/1.1 200"), res);
        TestUpstream.Seen seen = b.requests.poll();
        assertEquals("service-b", seen.headers().get("host"));
        assertEquals("req-7", seen.headers().get("x-request-id"), "the caller's request id, kept");
        TraceParent forwarded = TraceParent.parse(seen.headers().get("traceparent"));
        assertEquals("4bf92f3577b34da6a3ce929d0e0e4736", forwarded.traceId(), "the caller's trace, continued");
        assertNotEquals("00f067aa0ba902b7", forwarded.parentId());
        assertEquals("127.0.0.1", seen.headers().get("x-forwarded-for"));
        assertTrue(seen.headers().contains("via"));
    }

    /**
     * An upstream out of step answers one request twice in one write. The extra answer must not reach
     * the caller's next request: that one is served on its own connection, and the connection that
     * spoke out of turn is closed.
     */
    @Test
    void aSecondResponseInTheSameReadIsNotGivenToTheNextRequest() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            AtomicInteger accepted = new AtomicInteger();
            Thread acceptor = new Thread(() -> SidecarHarness.serveRaw(server, accepted, path -> path.equals("/twice")
                    ? "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirstHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nSECOND"
                    : "HTTP/1.1 200 OK\r\nContent-Length: " + path.length() + "\r\n\r\n" + path), "out-of-step-upstream");
            acceptor.setDaemon(true);
            acceptor.start();
            int port = sidecar("\"service-b\": [" + instance(server.getLocalPort()) + "]");

            String res = raw(port, "GET /twice HTTP/1.1\r\nHost: service-b\r\n\r\n"
                    + "GET /next HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n");

            assertEquals(2, res.split("HTTP/1.1 200 OK").length - 1, res);
            assertTrue(res.contains("\r\n\r\nfirstHTTP/1.1 200 OK") && res.endsWith("\r\n\r\n/next"), "each request its own answer: " + res);
            assertFalse(res.contains("SECOND"), res);
            assertEquals(2, accepted.get(), "the next request went out on a new connection");
        }
    }
}

package io.outrigger.http;

import io.outrigger.Sidecar;
import io.outrigger.discovery.Endpoint;
import io.outrigger.resilience.CircuitBreaker;
import io.outrigger.testing.Closer;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static io.outrigger.http.SidecarHarness.instance;
import static io.outrigger.http.SidecarHarness.raw;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the retry budget, the breakers and the round robin are told about each attempt: a lone
 * request may use all of max_retries, a response broken off half-way is a failure, a retry that
 * its own failures made impossible answers for that failure, and retries do not skew the round robin.
 */
class ResilienceAccountingTest {
    /**
     * The harness's settings with a request deadline far above what any exchange here takes: none of these tests
     * is about the deadline, and the harness's 1 s turned a slow moment of a loaded machine into a 504.
     */
    private static final String RESILIENCE = SidecarHarness.RESILIENCE.replace("request_ms: 1000", "request_ms: 15000");

    @TempDir
    Path dir;

    @AutoClose
    private final Closer closeables = new Closer();

    private TestUpstream upstream() throws InterruptedException {
        return closeables.add(new TestUpstream());
    }

    private Sidecar sidecar(String servicesJson, String yaml) throws Exception {
        Sidecar s = SidecarHarness.start(SidecarHarness.registry(dir, servicesJson), yaml);
        closeables.add(s);
        return s;
    }

    /** A started sidecar routing service-b to {@code b}, its breakers on {@code ticker}, configured by {@code resilience}. */
    private Sidecar onFakeClock(TestUpstream b, io.outrigger.time.FakeTicker ticker, String resilience) throws Exception {
        Path registry = SidecarHarness.registry(dir, "\"service-b\": [" + instance(b.port()) + "]");
        Sidecar s = closeables.add(new Sidecar(new io.outrigger.SidecarContext(io.outrigger.config.ConfigLoader.parse(
                SidecarHarness.yaml(registry, resilience), "test"), io.outrigger.discovery.FileRegistry.load(registry), ticker)));
        s.start();
        return s;
    }

    private static String get(Sidecar s, String path) throws Exception {
        return raw(s.boundPorts().get("outbound"), "GET " + path + " HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n");
    }

    /**
     * A half-open probe whose client leaves before the instance answers says nothing about the
     * instance: the probe is given back, and the next request probes at once. It waited open_ms
     * before (here a minute: the breaker's clock is a fake one that never moves on its own).
     */
    @Test
    void aProbeWhoseClientLeftIsGivenBack() throws Exception {
        TestUpstream b = upstream();
        io.outrigger.time.FakeTicker ticker = new io.outrigger.time.FakeTicker();
        Sidecar s = onFakeClock(b, ticker, RESILIENCE.replace("open_ms: 200", "open_ms: 60000"));
        int port = s.boundPorts().get("outbound");
        CircuitBreaker breaker = s.context().breakers().forInstance("service-b", new Endpoint("127.0.0.1", b.port()));
        breaker.transitionTo(CircuitBreaker.State.OPEN, "test");
        ticker.advanceMillis(60_000);

        b.delayMillis = 10_000;
        try (java.net.Socket client = new java.net.Socket("127.0.0.1", port)) {
            client.getOutputStream().write("GET /probe HTTP/1.1\r\nHost: service-b\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            SidecarHarness.await(java.time.Duration.ofSeconds(5), () -> b.requestCount() == 1, "the probe to reach the instance");
            assertEquals(0, breaker.snapshot().probesLeft(), "the one probe is out");
        } // the client leaves before the answer
        SidecarHarness.await(java.time.Duration.ofSeconds(5), () -> breaker.snapshot().probesLeft() == 1, "the probe to be given back");
        b.delayMillis = 0;
        String res = get(s, "/next");
        assertTrue(res.startsWith("HTTP/1.1 200"), "probed at once, not refused until open_ms: " + res);
        assertEquals(CircuitBreaker.State.CLOSED, breaker.state());
    }

    /**
     * A half-open probe cut short by the sidecar's own body limit (a 413 to an upload past max_body_bytes) says
     * nothing about the instance either: the probe is given back, and the next request probes at once. It stayed
     * out before, and the breaker refused every request for open_ms (here a minute, on a clock that never moves).
     */
    @Test
    void aProbeRefusedForItsBodySizeIsGivenBack() throws Exception {
        TestUpstream b = upstream();
        io.outrigger.time.FakeTicker ticker = new io.outrigger.time.FakeTicker();
        Sidecar s = onFakeClock(b, ticker, RESILIENCE.replace("open_ms: 200", "open_ms: 60000")
                        .replace("max_body_bytes: 1048576", "max_body_bytes: 1000"));
        int port = s.boundPorts().get("outbound");
        CircuitBreaker breaker = s.context().breakers().forInstance("service-b", new Endpoint("127.0.0.1", b.port()));
        breaker.transitionTo(CircuitBreaker.State.OPEN, "test");
        ticker.advanceMillis(60_000);

        String upload = "POST /up HTTP/1.1\r\nHost: service-b\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "7d0\r\n" + "x".repeat(2000) + "\r\n0\r\n\r\n";
        String refused = raw(port, upload);
        assertTrue(refused.startsWith("HTTP/1.1 413"), refused);
        SidecarHarness.await(java.time.Duration.ofSeconds(5), () -> breaker.snapshot().probesLeft() == 1, "the probe to be given back");
        String res = get(s, "/next");
        assertTrue(res.startsWith("HTTP/1.1 200"), "probed at once, not refused until open_ms: " + res);
        assertEquals(CircuitBreaker.State.CLOSED, breaker.state());
    }

    /**
     * A call let through while the breaker was closed is no probe: when its client leaves while the
     * breaker is half-open with its one probe out, nothing is given back, and the next request is
     * refused rather than sent as a second probe. The breaker took any release as a probe's before,
     * and let half_open_probes + 1 through.
     */
    @Test
    void aCallLetThroughWhileClosedGivesNoProbeBack() throws Exception {
        TestUpstream b = upstream();
        io.outrigger.time.FakeTicker ticker = new io.outrigger.time.FakeTicker();
        Sidecar s = onFakeClock(b, ticker, RESILIENCE.replace("open_ms: 200", "open_ms: 60000")
                        .replace("request_ms: 15000", "request_ms: 60000"));
        int port = s.boundPorts().get("outbound");
        CircuitBreaker breaker = s.context().breakers().forInstance("service-b", new Endpoint("127.0.0.1", b.port()));
        b.delayMillis = 10_000;
        byte[] request = "GET /slow HTTP/1.1\r\nHost: service-b\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        try (java.net.Socket early = new java.net.Socket("127.0.0.1", port);
             java.net.Socket probe = new java.net.Socket("127.0.0.1", port)) {
            early.getOutputStream().write(request);
            SidecarHarness.await(java.time.Duration.ofSeconds(5), () -> b.requestCount() == 1, "the early call to reach the instance");
            breaker.transitionTo(CircuitBreaker.State.OPEN, "test");
            ticker.advanceMillis(60_000);
            probe.getOutputStream().write(request);
            SidecarHarness.await(java.time.Duration.ofSeconds(5), () -> b.requestCount() == 2, "the probe to reach the instance");
            assertEquals(0, breaker.snapshot().probesLeft(), "the one probe is out");

            early.close(); // the early call's client leaves: no verdict, and it held no probe
            SidecarHarness.await(java.time.Duration.ofSeconds(5), () -> s.context().retryBudget().liveRequests() == 1,
                    "the early call to end");
            assertEquals(0, breaker.snapshot().probesLeft(), "the probe still out is the only one");
            String res = get(s, "/next");
            assertTrue(res.startsWith("HTTP/1.1 503"), "refused while the probe is out: " + res);
            assertTrue(res.contains("x-outrigger-breaker: open"), res);
            assertEquals(2, b.requestCount(), "no second probe");
        }
    }

    /**
     * When another event loop takes an instance's last half-open probe between that instance's pick and
     * its permit, the request goes to another willing instance, not to the client as a 503 (it got the
     * breaker's 503 before, with a healthy instance beside). The probe is taken by the clock the breaker
     * reads, at the moment the round robin asks it.
     */
    @Test
    void aProbeTakenBetweenPickAndPermitSendsTheRequestElsewhere() throws Exception {
        TestUpstream a = upstream();
        TestUpstream b = upstream();
        io.outrigger.resilience.ProbeThief thief = new io.outrigger.resilience.ProbeThief();
        Path registry = SidecarHarness.registry(dir, "\"service-b\": [" + instance(a.port()) + ", " + instance(b.port()) + "]");
        Sidecar s = closeables.add(new Sidecar(new io.outrigger.SidecarContext(io.outrigger.config.ConfigLoader.parse(
                SidecarHarness.yaml(registry, RESILIENCE.replace("open_ms: 200", "open_ms: 60000")), "test"),
                io.outrigger.discovery.FileRegistry.load(registry), thief)));
        s.start();
        CircuitBreaker breakerOfA = s.context().breakers().forInstance("service-b", new Endpoint("127.0.0.1", a.port()));
        breakerOfA.transitionTo(CircuitBreaker.State.OPEN, "test");
        thief.clock().advanceMillis(60_000); // a is due a probe: the round robin (which starts at a) finds it willing
        thief.stealNextProbeOf(breakerOfA);

        String res = get(s, "/p");
        assertEquals(1, thief.stolen(), "the probe was taken between the pick and the permit");
        assertTrue(res.startsWith("HTTP/1.1 200"), "served by the other instance: " + res);
        assertEquals(0, a.requestCount());
        assertEquals(1, b.requestCount());
    }

    /**
     * The budget bounds retries in flight (at least 3 at any traffic): one request has one retry in
     * flight at a time, so on a quiet sidecar it gets all of max_retries. It held each retry to its
     * end before, and a lone request stopped after 3.
     */
    @Test
    void aLoneRequestGetsAllOfMaxRetries() throws Exception {
        TestUpstream b = upstream();
        b.status = 503;
        Sidecar s = sidecar("\"service-b\": [" + instance(b.port()) + "]", RESILIENCE
                .replace("failure_threshold: 5", "failure_threshold: 100")
                .replace("max_retries: 2", "max_retries: 5"));
        String res = get(s, "/p");
        assertTrue(res.startsWith("HTTP/1.1 503"), res);
        assertEquals(1 + 5, b.requestCount(), "one attempt and max_retries=5 retries");
        // Awaited: the exchange gives its retry back on its loop just after writing the answer, and on epoll and NIO
        // that write (and the close after it) reaches the socket at once, so the client may have read it all before.
        SidecarHarness.await(java.time.Duration.ofSeconds(5), () -> s.context().retryBudget().retriesInFlight() == 0,
                "every retry given back");
    }

    /**
     * One answer is weighed for a retry once. A 503 whose transfer coding the sidecar cannot relay was
     * weighed twice (as a 503, then as a malformed answer): with the budget spent, the refusal was
     * counted twice in outrigger_retry_budget_exhausted_total.
     */
    @Test
    void aRefusedRetryIsCountedOnceForA503WithAnUnrelayableCoding() throws Exception {
        TestUpstream busy = upstream();
        busy.status = 503; // its callers hold their retries through a long backoff: the budget's floor of 3 is spent
        java.net.ServerSocket odd = closeables.add(new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress()));
        Thread acceptor = new Thread(() -> SidecarHarness.serveRaw(odd, new java.util.concurrent.atomic.AtomicInteger(),
                path -> "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"), "gzip-503-upstream");
        acceptor.setDaemon(true);
        acceptor.start();
        java.util.concurrent.atomic.AtomicInteger refused = new java.util.concurrent.atomic.AtomicInteger();
        io.outrigger.metrics.ProxyMetrics recording = new io.outrigger.metrics.ProxyMetrics() {
            @Override
            public void onRetryBudgetExhausted(String edge, String service) {
                refused.incrementAndGet();
            }
        };
        Path registry = SidecarHarness.registry(dir, "\"service-a\": [" + instance(busy.port()) + "], \"service-b\": [" + instance(odd.getLocalPort()) + "]");
        Sidecar s = closeables.add(new Sidecar(new io.outrigger.SidecarContext(io.outrigger.config.ConfigLoader.parse(SidecarHarness.yaml(registry, RESILIENCE
                .replace("failure_threshold: 5", "failure_threshold: 100")
                .replace("base_ms: 1, max_ms: 5, jitter: full", "base_ms: 5000, max_ms: 5000, jitter: none")
                .replace("request_ms: 15000", "request_ms: 20000")), "test"),
                io.outrigger.discovery.FileRegistry.load(registry), io.outrigger.time.Ticker.system(), recording)));
        s.start();
        int port = s.boundPorts().get("outbound");
        for (int i = 0; i < io.outrigger.resilience.RetryBudget.DEFAULT_MIN_RETRIES; i++) {
            java.net.Socket c = closeables.add(new java.net.Socket("127.0.0.1", port));
            c.getOutputStream().write("GET /busy HTTP/1.1\r\nHost: service-a\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        }
        SidecarHarness.await(java.time.Duration.ofSeconds(5), () -> s.context().retryBudget().retriesInFlight() == 3, "three retries held");
        String res = get(s, "/odd");
        assertTrue(res.startsWith("HTTP/1.1 502") && res.contains("malformed response"), res);
        assertEquals(1, refused.get(), "refusals counted");
    }

    /**
     * An instance that closes a kept-alive connection just as the sidecar reuses it (its idle timeout racing
     * the next request) has not failed: the request goes on a new connection and is answered, with no retry
     * (max_retries is 0 here), no breaker failure and nothing taken from the budget. It was a reset before:
     * a failure for the breakers and health, a retry of the budget, and a 502 once the budget was spent.
     */
    @Test
    void aKeptAliveConnectionClosedAsItIsReusedIsNoFailure() throws Exception {
        java.net.ServerSocket server = closeables.add(new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress()));
        java.util.concurrent.atomic.AtomicInteger accepted = new java.util.concurrent.atomic.AtomicInteger();
        Thread acceptor = new Thread(() -> {
            while (!server.isClosed()) {
                try (java.net.Socket c = server.accept()) {
                    accepted.incrementAndGet();
                    java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(c.getInputStream(),
                            java.nio.charset.StandardCharsets.ISO_8859_1));
                    while (!in.readLine().isEmpty()) {
                        // the head of the first request on this connection: no body
                    }
                    c.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
                    in.readLine(); // the next request on this connection finds it closing: no answer
                } catch (IOException | RuntimeException e) {
                    // the sidecar closed the connection, or the test ended
                }
            }
        }, "closes-when-reused");
        acceptor.setDaemon(true);
        acceptor.start();
        Sidecar s = sidecar("\"service-b\": [" + instance(server.getLocalPort()) + "]", RESILIENCE.replace("max_retries: 2", "max_retries: 0"));
        try (java.net.Socket client = new java.net.Socket("127.0.0.1", s.boundPorts().get("outbound"))) {
            client.setSoTimeout(5000);
            java.io.InputStream in = client.getInputStream();
            for (String path : new String[] {"/first", "/reused"}) { // one client connection: one event loop, one pool
                client.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: service-b\r\n\r\n")
                        .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                String res = readResponse(in);
                assertTrue(res.startsWith("HTTP/1.1 200") && res.endsWith("ok"), path + ": " + res);
            }
        }
        assertEquals(2, accepted.get(), "the second request went on a new connection");
        CircuitBreaker ib = s.context().breakers().findInstance("service-b", new Endpoint("127.0.0.1", server.getLocalPort()));
        assertEquals(0, ib.consecutiveFailures(), ib.snapshot().toString());
        assertEquals(0, s.context().breakers().forService("service-b").consecutiveFailures());
        assertEquals(0, s.context().retryBudget().retriesInFlight());
    }

    /**
     * A request that makes its instance close every connection it arrives on (a request of death) goes again on
     * a new connection once per exchange, not once per attempt: with max_retries 2 and three kept-alive
     * connections in the pool, it reaches the instance 4 times (3 attempts and one resend), where it reached it
     * 6 times before.
     */
    @Test
    void aRequestOfDeathIsResentOncePerExchange() throws Exception {
        java.net.ServerSocket server = closeables.add(new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress()));
        java.util.concurrent.atomic.AtomicInteger deaths = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.CountDownLatch warm = new java.util.concurrent.CountDownLatch(3);
        Thread acceptor = new Thread(() -> {
            while (!server.isClosed()) {
                try {
                    java.net.Socket c = server.accept();
                    Thread t = new Thread(() -> serveUntilDeath(c, warm, deaths), "death-conn");
                    t.setDaemon(true);
                    t.start();
                } catch (IOException e) {
                    return; // the test ended
                }
            }
        }, "death-acceptor");
        acceptor.setDaemon(true);
        acceptor.start();
        String yaml = RESILIENCE.replace("failure_threshold: 5", "failure_threshold: 100");
        Sidecar s = closeables.add(SidecarHarness.start(SidecarHarness.registry(dir, "\"service-b\": [" + instance(server.getLocalPort()) + "]"),
                yaml, 1)); // one event loop: one pool, which the warm-up fills
        int port = s.boundPorts().get("outbound");
        // Three requests at once, each answered only when all three arrived: three kept-alive connections in the pool.
        java.util.concurrent.ExecutorService clients = java.util.concurrent.Executors.newFixedThreadPool(3);
        try {
            java.util.List<java.util.concurrent.Future<String>> warmUp = new java.util.ArrayList<>();
            for (int i = 0; i < 3; i++) {
                warmUp.add(clients.submit(() -> get(s, "/warm")));
            }
            for (java.util.concurrent.Future<String> f : warmUp) {
                String res = f.get(10, java.util.concurrent.TimeUnit.SECONDS);
                assertTrue(res.startsWith("HTTP/1.1 200"), res);
            }
        } finally {
            clients.shutdownNow();
        }
        String res = get(s, "/death");
        assertTrue(res.startsWith("HTTP/1.1 502"), res);
        assertEquals(4, deaths.get(), "three attempts on kept-alive connections, one resend on a new one");
    }

    /** Answers {@code /warm} once three have arrived, keeping the connection; closes it at {@code /death}. */
    private static void serveUntilDeath(java.net.Socket c, java.util.concurrent.CountDownLatch warm,
                                        java.util.concurrent.atomic.AtomicInteger deaths) {
        try (c) {
            java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(c.getInputStream(),
                    java.nio.charset.StandardCharsets.ISO_8859_1));
            for (;;) {
                String line = in.readLine();
                if (line == null) {
                    return;
                }
                while (!in.readLine().isEmpty()) {
                    // the rest of the head: no body
                }
                if (line.contains("/death")) {
                    deaths.incrementAndGet();
                    return;
                }
                warm.countDown();
                warm.await(10, java.util.concurrent.TimeUnit.SECONDS);
                c.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
            }
        } catch (IOException | RuntimeException e) {
            // the sidecar closed the connection, or the test ended
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** One response with a Content-Length body, read from a kept-alive connection. */
    private static String readResponse(java.io.InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                return head.toString();
            }
            head.append((char) b);
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(head);
        int length = m.find() ? Integer.parseInt(m.group(1)) : 0;
        return head + new String(in.readNBytes(length), java.nio.charset.StandardCharsets.ISO_8859_1);
    }

    /** Contract: the breaker counts resets. An instance that breaks off every response half-way opens it like any failure. */
    @Test
    void aResponseBrokenOffHalfWayIsABreakerFailure() throws Exception {
        TestUpstream b = upstream();
        b.closeMidResponse = true;
        Sidecar s = sidecar("\"service-b\": [" + instance(b.port()) + "]", RESILIENCE.replace("open_ms: 200", "open_ms: 60000"));
        for (int i = 0; i < 5; i++) {
            String res = get(s, "/p");
            assertTrue(res.startsWith("HTTP/1.1 200") && res.contains("partial") && !res.endsWith("}"), "a truncated 200: " + res);
        }
        CircuitBreaker ib = s.context().breakers().findInstance("service-b", new Endpoint("127.0.0.1", b.port()));
        assertEquals(CircuitBreaker.State.OPEN, ib.state(), ib.snapshot().toString());
        String open = get(s, "/p");
        assertTrue(open.startsWith("HTTP/1.1 503") && open.contains("x-outrigger-breaker: open"), open);
        assertEquals(5, b.requestCount());
    }

    /**
     * A reset opens the breaker (threshold 1), which leaves the retry no instance: the caller gets the
     * 502 of the reset at once, not a 503 "breaker open" after the backoff.
     */
    @Test
    void aRetryItsOwnFailureMadeImpossibleAnswersForThatFailure() throws Exception {
        TestUpstream b = upstream();
        b.closeBeforeResponse = true;
        Sidecar s = sidecar("\"service-b\": [" + instance(b.port()) + "]", RESILIENCE
                .replace("failure_threshold: 5", "failure_threshold: 1")
                .replace("open_ms: 200", "open_ms: 60000")
                .replace("base_ms: 1, max_ms: 5", "base_ms: 10000, max_ms: 10000"));
        long start = System.nanoTime();
        String res = get(s, "/p");
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertTrue(res.startsWith("HTTP/1.1 502") && res.contains("upstream reset the connection"), res);
        assertTrue(!res.contains("x-outrigger-breaker"), res);
        assertTrue(millis < 5000, "answered without waiting the 10 s backoff: " + millis + " ms");
        assertEquals(1, b.requestCount());
    }

    /**
     * With two instances and one refusing, every request's first attempt used to land on the refusing
     * one: each retry advanced the shared round robin once more. A retry now takes the instance after
     * the one that failed, so first attempts alternate and half of the requests need no retry.
     */
    @Test
    void retriesDoNotSkewTheRoundRobin() throws Exception {
        TestUpstream good = upstream();
        int dead = SidecarHarness.closedPort();
        Sidecar s = sidecar("\"service-b\": [" + instance(dead) + ", " + instance(good.port()) + "]",
                RESILIENCE.replace("failure_threshold: 5", "failure_threshold: 100"));
        for (int i = 0; i < 10; i++) {
            assertTrue(get(s, "/p").startsWith("HTTP/1.1 200"));
        }
        CircuitBreaker deadBreaker = s.context().breakers().findInstance("service-b", new Endpoint("127.0.0.1", dead));
        assertEquals(5, deadBreaker.consecutiveFailures(), "first attempts alternate: 5 of 10 went to the refusing instance");
        assertEquals(10, good.requestCount());
    }
}

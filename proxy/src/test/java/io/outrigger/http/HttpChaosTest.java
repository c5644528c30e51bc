package io.outrigger.http;

import io.outrigger.Sidecar;
import io.outrigger.testing.Closer;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.outrigger.http.SidecarHarness.instance;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Many clients at once, each doing a seeded random mix (keep-alive GETs, small and large POSTs,
 * pipelined GETs, hanging up mid-body or while waiting), while the upstreams switch at random
 * between answering, answering 503, answering late, closing before or in the middle of the
 * answer. Whatever the timing, every answer a client reads must be a well-formed response with a
 * status the contract allows; afterwards the sidecar serves normally again, holds no more upstream
 * connections than its pools allow, and has leaked no buffer (leak detection is paranoid).
 */
class HttpChaosTest {
    private static final long SEED = 20261130L;
    private static final int CLIENTS = 12;
    private static final int OPS_PER_CLIENT = 40;
    private static final Set<Integer> EXPECTED = Set.of(200, 502, 503, 504);
    private static final Pattern STATUS = Pattern.compile("HTTP/1\\.1 (\\d{3}) [^\\r\\n]*\\r\\n");
    private static final Pattern LENGTH = Pattern.compile("(?i)\\r\\ncontent-length: (\\d+)\\r\\n");

    @TempDir
    Path dir;

    @AutoClose
    private final Closer closeables = new Closer();

    @Test
    void answersStayWellFormedAndNothingIsHeldOnceTheChaosStops() throws Exception {
        TestUpstream a = closeables.add(new TestUpstream());
        TestUpstream b = closeables.add(new TestUpstream());
        List<TestUpstream> upstreams = List.of(a, b);
        Sidecar sidecar = closeables.add(SidecarHarness.start(
                SidecarHarness.registry(dir, "\"service-b\": [" + instance(a.port()) + ", " + instance(b.port()) + "]"),
                // Breakers and ejection nearly off, so the chaos reaches the upstreams instead of failing fast.
                SidecarHarness.RESILIENCE.replace("failure_threshold: 5", "failure_threshold: 1000000")
                        .replace("request_ms: 1000", "request_ms: 400")
                        .replace("health: { ejection_ms: 200 }", "health: { ejection_ms: 200, eject_after_failures: 1000000 }")));
        int port = sidecar.boundPorts().get("outbound");

        Map<String, AtomicInteger> outcomes = new ConcurrentHashMap<>();
        AtomicBoolean chaos = new AtomicBoolean(true);
        ExecutorService pool = Executors.newFixedThreadPool(CLIENTS + 1);
        try {
            Future<?> switcher = pool.submit(() -> switchBehaviours(upstreams, chaos));
            List<Future<?>> clients = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                Random random = new Random(SEED + c);
                clients.add(pool.submit(() -> {
                    for (int op = 0; op < OPS_PER_CLIENT; op++) {
                        String outcome = operation(port, random);
                        outcomes.computeIfAbsent(outcome, k -> new AtomicInteger()).incrementAndGet();
                    }
                    return null;
                }));
            }
            for (Future<?> f : clients) {
                f.get(60, TimeUnit.SECONDS);
            }
            chaos.set(false);
            switcher.get(5, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }
        System.err.println("chaos outcomes: " + outcomes);
        assertTrue(outcomes.containsKey("200") && outcomes.size() >= 3, "the chaos reached several outcomes: " + outcomes);

        // Calm again: the breakers close after open_ms and requests succeed.
        for (TestUpstream u : upstreams) {
            calm(u);
        }
        SidecarHarness.await(Duration.ofSeconds(5), () -> okGet(port), "a 200 once the upstreams are healthy");
        for (int i = 0; i < 20; i++) {
            assertTrue(okGet(port), "request " + i + " after the chaos");
        }
        // Each upstream connection the sidecar still holds is an idle pooled one: at most pool_max_idle (4) per event loop (2).
        for (TestUpstream u : upstreams) {
            SidecarHarness.await(Duration.ofSeconds(5), () -> u.connections.get() - u.closedConnections.get() <= 8,
                    "upstream connections back within the pool bound (open: " + (u.connections.get() - u.closedConnections.get()) + ")");
        }
    }

    /** One client operation on a fresh connection; returns the first status read, or what ended it. */
    private static String operation(int port, Random r) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            switch (r.nextInt(7)) {
                case 0 -> { // hang up in the middle of a body
                    out.write(("POST /up HTTP/1.1\r\nHost: service-b\r\nContent-Length: 100000\r\n\r\n" + "x".repeat(r.nextInt(5000)))
                            .getBytes(StandardCharsets.ISO_8859_1));
                    return "client-gone-mid-body";
                }
                case 1 -> { // hang up while the answer is on its way
                    out.write("GET /wait HTTP/1.1\r\nHost: service-b\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                    s.setSoLinger(true, 0); // a reset, the rudest way to leave
                    return "client-gone-waiting";
                }
                case 2 -> out.write(("GET /p1 HTTP/1.1\r\nHost: service-b\r\n\r\nGET /p2 HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.ISO_8859_1));
                case 3 -> out.write(("POST /big HTTP/1.1\r\nHost: service-b\r\nContent-Length: 200000\r\nConnection: close\r\n\r\n" + "y".repeat(200_000))
                        .getBytes(StandardCharsets.ISO_8859_1));
                case 4 -> out.write(("POST /small HTTP/1.1\r\nHost: service-b\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
                        .getBytes(StandardCharsets.ISO_8859_1));
                default -> out.write(("GET /k1 HTTP/1.1\r\nHost: service-b\r\n\r\nGET /k2 HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.ISO_8859_1));
            }
            return checkAnswers(s.getInputStream().readAllBytes());
        } catch (SocketException reset) {
            return "reset";
        }
    }

    /** Every response in {@code wire} must be well formed with an expected status; returns the first status, or "closed". */
    private static String checkAnswers(byte[] wire) {
        String text = new String(wire, StandardCharsets.ISO_8859_1);
        if (text.isEmpty()) {
            return "closed";
        }
        String first = null;
        int at = 0;
        while (at < text.length()) {
            Matcher m = STATUS.matcher(text);
            assertTrue(m.find(at) && m.start() == at, "a status line at " + at + ": " + abbreviate(text));
            int status = Integer.parseInt(m.group(1));
            assertTrue(EXPECTED.contains(status), "an expected status: " + abbreviate(text));
            first = first == null ? m.group(1) : first;
            int headEnd = text.indexOf("\r\n\r\n", at);
            assertTrue(headEnd > 0, "a complete head: " + abbreviate(text));
            Matcher length = LENGTH.matcher(text.substring(at, headEnd + 2));
            if (!length.find()) {
                break; // chunked or close-delimited: the last response on this connection
            }
            int end = headEnd + 4 + Integer.parseInt(length.group(1));
            if (end > text.length()) {
                return first + "-cut"; // an upstream that broke off mid-answer: the sidecar closed the client connection
            }
            at = end;
        }
        return first;
    }

    /** Every 10 ms, one upstream gets a new random behaviour, until {@code chaos} is cleared. */
    private static Void switchBehaviours(List<TestUpstream> upstreams, AtomicBoolean chaos) throws InterruptedException {
        Random r = new Random(SEED - 1);
        while (chaos.get()) {
            TestUpstream u = upstreams.get(r.nextInt(upstreams.size()));
            calm(u);
            switch (r.nextInt(6)) {
                case 0 -> u.status = 503;
                case 1 -> u.delayMillis = 1 + r.nextInt(30);
                case 2 -> u.closeBeforeResponse = true;
                case 3 -> u.closeMidResponse = true;
                case 4 -> u.delayMillis = 600; // beyond request_ms: a 504
                default -> { } // healthy
            }
            TimeUnit.MILLISECONDS.sleep(10); // the pace of the chaos, not a synchronisation
        }
        return null;
    }

    private static void calm(TestUpstream u) {
        u.status = 200;
        u.delayMillis = 0;
        u.closeBeforeResponse = false;
        u.closeMidResponse = false;
    }

    private static boolean okGet(int port) {
        try {
            return SidecarHarness.raw(port, "GET /calm HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n").startsWith("HTTP/1.1 200");
        } catch (IOException e) {
            return false;
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 600 ? s : s.substring(0, 600) + "...";
    }
}

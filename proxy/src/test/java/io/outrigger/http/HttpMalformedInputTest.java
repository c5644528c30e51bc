package io.outrigger.http;

import io.outrigger.Sidecar;
import io.outrigger.SidecarContext;
import io.outrigger.config.ConfigLoader;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.testing.Closer;
import io.outrigger.time.Ticker;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.outrigger.http.SidecarHarness.instance;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Valid requests corrupted at random (a fixed seed, so a failure replays), each sent on its own
 * connection through a real socket, a few at a time, with a valid request after each few. Every
 * corrupted request must end in a well-formed HTTP/1.1 answer with a status the sidecar or its
 * upstream gives, or in a closed connection; nothing the upstream receives may fail to decode
 * (what is forwarded is re-encoded from a strict parse, never passed through); the valid requests
 * are answered every time; and no buffer leaks (leak detection is paranoid).
 */
class HttpMalformedInputTest {
    private static final long SEED = 20261130L;
    private static final int CASES = 300;
    private static final int PARALLEL = 8;
    /** What a corrupted request may be answered with: 200 (it survived), the sidecar's refusals and its upstream errors. */
    private static final Set<Integer> EXPECTED = Set.of(200, 400, 404, 408, 413, 414, 431, 502, 503, 504, 505);
    private static final Pattern STATUS_LINE = Pattern.compile("^HTTP/1\\.1 (\\d{3}) [^\\r\\n]*\\r\\n");
    private static final String[] TEMPLATES = {
        "GET /a?b=c HTTP/1.1\r\nHost: service-b\r\nAccept: */*\r\nX-Request-Id: r-1\r\nConnection: close\r\n\r\n",
        "POST /p HTTP/1.1\r\nHost: service-b\r\nContent-Length: 5\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nhello",
        "PUT /c HTTP/1.1\r\nHost: service-b\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n",
        "GET http://service-b/proxy-form HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n"
            + "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n",
        "GET /one HTTP/1.1\r\nHost: service-b\r\n\r\nGET /two HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n",
    };
    private static final int RESPONSE_CASES = 200;
    private static final String[] RESPONSE_TEMPLATES = {
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Up: 1\r\n\r\n5\r\nhello\r\n3;e=1\r\nabc\r\n0\r\nT: v\r\n\r\n",
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nX-A: b, c\r\n\r\n",
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\nuntil the upstream closes",
    };
    /** A header line as it may go out: a token, a colon, and a value of visible characters, spaces and tabs. */
    private static final Pattern HEADER_LINE = Pattern.compile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[ \\t]*[\\x21-\\x7e\\x80-\\xff]*([ \\t]+[\\x21-\\x7e\\x80-\\xff]+)*[ \\t]*$");
    private static final String[] ADMIN_TEMPLATES = {
        "GET /ready HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n",
        "GET /clusters?x=1 HTTP/1.1\r\nHost: admin\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
        "POST /config HTTP/1.1\r\nHost: admin\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
        "GET /metrics HTTP/1.1\r\nHost: admin\r\n\r\nGET /ready HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n",
    };
    /** The admin listener's answers: found, refused, unknown path, wrong method, body, line or head too large. Never 500. */
    private static final Set<Integer> ADMIN_EXPECTED = Set.of(200, 400, 404, 405, 413, 414, 431);
    /** Header and idle timeouts short enough that a corrupted request the sidecar waits on ends soon. */
    private static final String SHORT_TIMEOUTS =
            SidecarHarness.RESILIENCE.replace("http: { header_timeout_ms: 300,", "http: { header_timeout_ms: 300, idle_timeout_ms: 300,");
    /** Bytes that mean something to an HTTP parser, or to a careless one. */
    private static final byte[] SHARP = {'\r', '\n', 0, ' ', '\t', ':', ';', ',', '"', 0x7f, (byte) 0x80, (byte) 0xff, '0', 'x', 'F'};

    @TempDir
    Path dir;

    @AutoClose
    private final Closer closeables = new Closer();

    @Test
    void corruptedRequestsGetCleanAnswersAndNeverDisturbOtherTraffic() throws Exception {
        TestUpstream upstream = new TestUpstream();
        closeables.add(upstream);
        Sidecar sidecar = SidecarHarness.start(SidecarHarness.registry(dir, "\"service-b\": [" + instance(upstream.port()) + "]"),
                SHORT_TIMEOUTS);
        closeables.add(sidecar);
        int port = sidecar.boundPorts().get("outbound");

        Map<String, Integer> outcomes = sendCorrupted(port, new Random(SEED), TEMPLATES, EXPECTED,
                "GET /witness HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n");
        System.err.println("corrupted-request outcomes: " + outcomes);

        assertEquals(0, upstream.malformed.get(), "requests the upstream could not decode");
        // The corruption must reach every kind of outcome, or the test proves less than it claims.
        assertTrue(outcomes.getOrDefault("200", 0) > 0, "some requests survive: " + outcomes);
        assertTrue(outcomes.getOrDefault("400", 0) > 0, "some are refused: " + outcomes);
        assertTrue(outcomes.getOrDefault("closed", 0) > 0, "some end without an answer: " + outcomes);
    }

    @Test
    void corruptedRequestsToTheAdminListenerGetCleanAnswersOrAClose() throws Exception {
        Path registry = SidecarHarness.registry(dir, "\"service-b\": [" + instance(SidecarHarness.closedPort()) + "]");
        SidecarConfig cfg = ConfigLoader.parse(SidecarHarness.yaml(registry, SHORT_TIMEOUTS)
                .replace("  outbound: { port: 0 }\n", "  outbound: { port: 0 }\n  admin: { port: 0 }\n"), "test");
        Sidecar sidecar = new Sidecar(new SidecarContext(cfg, FileRegistry.load(registry), Ticker.system()));
        closeables.add(sidecar);
        sidecar.start();
        int port = sidecar.boundPorts().get("admin");

        Map<String, Integer> outcomes = sendCorrupted(port, new Random(SEED + 2), ADMIN_TEMPLATES, ADMIN_EXPECTED,
                "GET /ready HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n");
        System.err.println("corrupted-admin-request outcomes: " + outcomes);
        assertTrue(outcomes.getOrDefault("200", 0) > 0, "some requests survive: " + outcomes);
        assertTrue(outcomes.getOrDefault("400", 0) > 0, "some are refused: " + outcomes);
        assertTrue(outcomes.getOrDefault("closed", 0) > 0, "some end without an answer: " + outcomes);
    }

    /**
     * Sends {@value #CASES} corruptions of {@code templates}, {@value #PARALLEL} at a time on their own
     * connections, and {@code witness} (which must be answered 200) after each group; returns how
     * many ended in which status or "closed".
     */
    private static Map<String, Integer> sendCorrupted(int port, Random random, String[] templates, Set<Integer> expected,
                                                      String witness) throws Exception {
        List<byte[]> cases = new ArrayList<>();
        for (int i = 0; i < CASES; i++) {
            cases.add(mutate(random, templates[i % templates.length].getBytes(StandardCharsets.ISO_8859_1)));
        }
        Map<String, Integer> outcomes = new TreeMap<>();
        ExecutorService pool = Executors.newFixedThreadPool(PARALLEL);
        try {
            for (int from = 0; from < CASES; from += PARALLEL) {
                List<Future<String>> batch = new ArrayList<>();
                for (int i = from; i < Math.min(CASES, from + PARALLEL); i++) {
                    byte[] request = cases.get(i);
                    int n = i;
                    batch.add(pool.submit(() -> outcome(n, request, exchange(port, request), expected)));
                }
                for (Future<String> f : batch) {
                    outcomes.merge(f.get(), 1, Integer::sum);
                }
                String answer = SidecarHarness.raw(port, witness);
                assertTrue(answer.startsWith("HTTP/1.1 200"), "a valid request after case " + from + ": " + answer);
            }
        } finally {
            pool.shutdownNow();
        }
        return outcomes;
    }

    @Test
    void corruptedResponsesReachTheClientWellFormedOrNotAtAll() throws Exception {
        Random random = new Random(SEED + 1);
        List<byte[]> responses = new ArrayList<>();
        for (int i = 0; i < RESPONSE_CASES; i++) {
            responses.add(mutate(random, RESPONSE_TEMPLATES[i % RESPONSE_TEMPLATES.length].getBytes(StandardCharsets.ISO_8859_1)));
        }
        RawUpstream upstream = new RawUpstream(responses);
        closeables.add(upstream);
        Sidecar sidecar = SidecarHarness.start(SidecarHarness.registry(dir, "\"service-b\": [" + instance(upstream.port()) + "]"),
                SHORT_TIMEOUTS.replace("max_retries: 2", "max_retries: 0")
                        .replace("failure_threshold: 5", "failure_threshold: 1000000") // every case reaches the upstream
                        .replace("timeouts: { connect_ms: 500, request_ms: 1000 }", "timeouts: { connect_ms: 500, request_ms: 300 }"));
        closeables.add(sidecar);
        int port = sidecar.boundPorts().get("outbound");

        Map<String, Integer> outcomes = new TreeMap<>();
        for (int i = 0; i < RESPONSE_CASES; i++) {
            // Without retries, so the answer to /r-i comes from corrupted response i (the upstream picks it by path).
            byte[] request = ("GET /r-" + i + " HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
            byte[] answer = exchange(port, request);
            String context = "case " + i + ", upstream sent " + printable(responses.get(i)) + ", client got " + printable(answer);
            outcomes.merge(wellFormedResponse(answer, context), 1, Integer::sum);
        }
        System.err.println("corrupted-response outcomes: " + outcomes);
        assertTrue(outcomes.getOrDefault("502", 0) > 0, "some are refused: " + outcomes);
        assertTrue(outcomes.getOrDefault("200", 0) > 0, "some survive: " + outcomes);
    }

    /** Classifies what came back: "closed" (no bytes) or the first status; fails on anything malformed. */
    private static String outcome(int n, byte[] request, byte[] response, Set<Integer> expected) {
        String text = new String(response, StandardCharsets.ISO_8859_1);
        String context = "case " + n + ", request " + printable(request) + ", response " + printable(response);
        if (text.isEmpty()) {
            return "closed";
        }
        Matcher m = STATUS_LINE.matcher(text);
        assertTrue(m.find(), "a well-formed status line: " + context);
        assertTrue(text.contains("\r\n\r\n"), "a complete head: " + context);
        int status = Integer.parseInt(m.group(1));
        assertTrue(expected.contains(status), "an expected status: " + context);
        return String.valueOf(status);
    }

    /** Sends {@code request} and reads until the sidecar closes the connection (its header or idle timeout ends waits). */
    private static byte[] exchange(int port, byte[] request) throws IOException {
        try {
            return SidecarHarness.rawLenient(port, request);
        } catch (AssertionError stuck) {
            throw new AssertionError(stuck.getMessage() + ": " + printable(request));
        }
    }

    /**
     * Checks that {@code response} is empty or one well-formed HTTP/1.1 response head (status line,
     * header lines of a token name and a value without control characters) followed by at most the
     * body its Content-Length declares; returns "closed" or the status.
     */
    private static String wellFormedResponse(byte[] response, String context) {
        String text = new String(response, StandardCharsets.ISO_8859_1);
        if (text.isEmpty()) {
            return "closed";
        }
        int end = text.indexOf("\r\n\r\n");
        assertTrue(end > 0, "a complete head: " + context);
        String[] lines = text.substring(0, end).split("\r\n", -1);
        Matcher status = Pattern.compile("^HTTP/1\\.1 ([1-5]\\d\\d) [\\x20-\\x7e\\x80-\\xff\\t]*$").matcher(lines[0]);
        assertTrue(status.find(), "a well-formed status line: " + context);
        long declared = -1;
        for (int i = 1; i < lines.length; i++) {
            assertTrue(HEADER_LINE.matcher(lines[i]).matches(), "a well-formed header line (" + printable(lines[i].getBytes(StandardCharsets.ISO_8859_1)) + "): " + context);
            if (lines[i].regionMatches(true, 0, "content-length:", 0, 15)) {
                declared = Long.parseLong(lines[i].substring(15).trim());
            }
        }
        int body = text.length() - end - 4;
        assertTrue(declared < 0 || body <= declared, "no more body than declared: " + context);
        return status.group(1);
    }

    /** One to three corruptions: a byte replaced, a span cut, doubled or truncated away, sharp bytes put in, a huge header. */
    private static byte[] mutate(Random r, byte[] in) {
        byte[] b = in;
        int ops = 1 + r.nextInt(3);
        for (int k = 0; k < ops && b.length > 1; k++) {
            int at = r.nextInt(b.length);
            switch (r.nextInt(6)) {
                case 0 -> {
                    b = b.clone();
                    b[at] = SHARP[r.nextInt(SHARP.length)];
                }
                case 1 -> b = splice(b, at, Math.min(b.length, at + 1 + r.nextInt(8)), new byte[0]);
                case 2 -> {
                    int end = Math.min(b.length, at + 1 + r.nextInt(16));
                    b = splice(b, at, at, java.util.Arrays.copyOfRange(b, at, end));
                }
                case 3 -> {
                    byte[] sharp = new byte[1 + r.nextInt(3)];
                    for (int i = 0; i < sharp.length; i++) {
                        sharp[i] = SHARP[r.nextInt(SHARP.length)];
                    }
                    b = splice(b, at, at, sharp);
                }
                case 4 -> b = java.util.Arrays.copyOf(b, Math.max(1, at));
                default -> b = splice(b, at, at, ("\r\nX-Big: " + "a".repeat(5000)).getBytes(StandardCharsets.ISO_8859_1));
            }
        }
        return b;
    }

    private static byte[] splice(byte[] b, int from, int to, byte[] insert) {
        byte[] out = new byte[b.length - (to - from) + insert.length];
        System.arraycopy(b, 0, out, 0, from);
        System.arraycopy(insert, 0, out, from, insert.length);
        System.arraycopy(b, to, out, from + insert.length, b.length - to);
        return out;
    }

    private static String printable(byte[] b) {
        StringBuilder s = new StringBuilder("\"");
        for (int i = 0; i < Math.min(b.length, 300); i++) {
            int c = b[i] & 0xff;
            s.append(c >= 0x20 && c < 0x7f && c != '\\' ? String.valueOf((char) c) : String.format("\\x%02x", c));
        }
        return s.append(b.length > 300 ? "...\"" : "\"").toString();
    }

    /**
     * An upstream that answers {@code GET /r-i} with the i-th byte string as it is, then closes:
     * what a broken or hostile server sends, unparsed.
     */
    private static final class RawUpstream implements AutoCloseable {
        private static final Pattern CASE_PATH = Pattern.compile("^GET /r-(\\d+) ");
        private final ServerSocket server;
        private final Thread acceptor;

        RawUpstream(List<byte[]> responses) throws IOException {
            server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            acceptor = new Thread(() -> {
                while (!server.isClosed()) {
                    try (Socket s = server.accept()) {
                        s.setSoTimeout(5000);
                        Matcher path = CASE_PATH.matcher(readHead(s.getInputStream()));
                        if (!path.find()) {
                            continue; // not a case: no answer
                        }
                        s.getOutputStream().write(responses.get(Integer.parseInt(path.group(1))));
                        s.shutdownOutput();
                        s.getInputStream().read(); // until the sidecar closes its end: a close by us first would reset
                    } catch (IOException closedOrReset) {
                        // the next connection
                    }
                }
            }, "raw-upstream");
            acceptor.setDaemon(true);
            acceptor.start();
        }

        int port() {
            return server.getLocalPort();
        }

        private static String readHead(InputStream in) throws IOException {
            StringBuilder head = new StringBuilder();
            while (head.length() < 4 || head.lastIndexOf("\r\n\r\n") != head.length() - 4) {
                int c = in.read();
                if (c < 0) {
                    throw new IOException("closed before the head ended");
                }
                head.append((char) c);
            }
            return head.toString();
        }

        @Override
        public void close() throws Exception {
            server.close();
            acceptor.join(5000);
        }
    }
}

package io.outrigger.http;

import io.outrigger.testing.Closer;
import io.outrigger.testing.RawHttp;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Upstreams that answer in ways beyond a plain final response: interim 1xx answers, an unrequested
 * protocol switch, and bytes nobody asked for on a keep-alive connection: a body after a 204 or
 * after the answer to HEAD (both bodiless by definition), in the same write as the answer or later,
 * while the connection is idle in the pool. The next request leased on that connection would read
 * those bytes as the start of its answer; here it must be served on a new connection instead.
 * The next request is a POST, which is never retried: a 502 for it is not hidden by a retry.
 */
class UpstreamOutOfStepTest {
    @TempDir
    Path dir;

    @AutoClose
    private final Closer closeables = new Closer();

    private final AtomicInteger accepted = new AtomicInteger();
    private final AtomicInteger hintsThen503 = new AtomicInteger();
    private final AtomicInteger malformedAnswers = new AtomicInteger();
    /** Upstream connections the sidecar has closed (seen as end of input by the upstream). */
    private final AtomicInteger closedBySidecar = new AtomicInteger();
    /** Opens the gate for a "/late" answer's stray bytes. */
    private final CountDownLatch sendLateBytes = new CountDownLatch(1);

    private int sidecar(ServerSocket upstream) throws Exception {
        return SidecarHarness.outboundTo(upstream.getLocalPort(), dir, closeables);
    }

    @Test
    void aBodyAfterA204InTheSameWriteClosesTheConnectionInsteadOfPoolingIt() throws Exception {
        try (ServerSocket upstream = upstream()) {
            int port = sidecar(upstream);
            try (RawHttp client = new RawHttp(port)) {
                assertEquals(204, client.get("service-b", "/no-content-with-body").status());
                assertNextRequestIsServedOnANewConnection(client);
            }
        }
    }

    @Test
    void aBodyAfterTheAnswerToHeadClosesTheConnectionInsteadOfPoolingIt() throws Exception {
        try (ServerSocket upstream = upstream()) {
            int port = sidecar(upstream);
            try (RawHttp client = new RawHttp(port)) {
                client.send("HEAD /head-with-body HTTP/1.1\r\nHost: service-b\r\n\r\n");
                RawHttp.Response head = client.readHead(); // Content-Length: 5 and, rightly, no body
                assertEquals(200, head.status());
                assertEquals("5", head.headers().get("content-length"));
                assertNextRequestIsServedOnANewConnection(client);
            }
        }
    }

    @Test
    void bytesArrivingWhileTheConnectionIsPooledCloseIt() throws Exception {
        try (ServerSocket upstream = upstream()) {
            int port = sidecar(upstream);
            try (RawHttp client = new RawHttp(port)) {
                assertEquals(204, client.get("service-b", "/late").status());
                sendLateBytes.countDown(); // the connection is pooled: the 204 reached the client
                SidecarHarness.await(Duration.ofSeconds(5), () -> closedBySidecar.get() == 1,
                        "the sidecar to close the pooled connection that spoke out of turn");
                assertNextRequestIsServedOnANewConnection(client);
            }
        }
    }

    /** RFC 9110 15.2: a proxy forwards the 1xx answers it did not ask for itself, except to HTTP/1.0 clients. */
    @Test
    void earlyHintsArePassedOnBeforeTheFinalAnswer() throws Exception {
        try (ServerSocket upstream = upstream()) {
            int port = sidecar(upstream);
            try (RawHttp client = new RawHttp(port)) {
                client.send("GET /early-hints HTTP/1.1\r\nHost: service-b\r\n\r\n");
                RawHttp.Response hints = client.readHead();
                assertEquals(103, hints.status(), hints.toString());
                assertEquals("</style.css>; rel=preload", hints.headers().get("link"));
                assertEquals("1.1 test-sidecar", hints.headers().get("via"));
                RawHttp.Response answer = client.read();
                assertEquals(200, answer.status());
                assertEquals("ok", answer.body());
                assertEquals("1.1 test-sidecar", answer.headers().get("via"), "Via on the forwarded answer too (RFC 9110 7.6.3)");
                assertEquals(200, client.get("service-b", "/after").status(), "the connections stay in step");
            }
            String http10 = SidecarHarness.raw(port, "GET /early-hints HTTP/1.0\r\nHost: service-b\r\n\r\n");
            assertTrue(http10.startsWith("HTTP/1.1 200 ") && !http10.contains(" 103 "), "no interim answer to HTTP/1.0: " + http10);
        }
    }

    /**
     * Once an instance's 103 went to the caller, a response byte has gone out: its 503 is the answer, not
     * a retry whose 200 would follow another instance's hints (the contract: no retry once any byte went).
     */
    @Test
    void noRetryAfterAnInterimAnswerWentToTheCaller() throws Exception {
        try (ServerSocket upstream = upstream()) {
            int port = sidecar(upstream);
            try (RawHttp client = new RawHttp(port)) {
                client.send("GET /hints-then-503 HTTP/1.1\r\nHost: service-b\r\n\r\n");
                assertEquals(103, client.readHead().status());
                RawHttp.Response answer = client.read();
                assertEquals(503, answer.status(), answer.toString());
                assertEquals("busy", answer.body(), "the instance's own answer");
            }
            assertEquals(1, hintsThen503.get(), "one attempt: GETs answered 503 are otherwise retried (max_retries 2)");
        }
    }

    /** Upgrade is never forwarded, so a 101 is an upstream out of step: a bad answer (502), at once for a POST. */
    @Test
    void anUnrequestedProtocolSwitchIsABadAnswer() throws Exception {
        try (ServerSocket upstream = upstream()) {
            int port = sidecar(upstream);
            try (RawHttp client = new RawHttp(port)) {
                client.send("POST /switch HTTP/1.1\r\nHost: service-b\r\nContent-Length: 0\r\n\r\n");
                RawHttp.Response res = client.read();
                assertEquals(502, res.status(), res.toString());
                assertTrue(res.body().contains("upstream sent a malformed response"), res.body());
            }
        }
    }

    /**
     * Netty's response decoder ends a field name at its first space and drops the rest up to the colon,
     * so {@code Bad Header: x} would reach the client as {@code Bad: x}: a malformed head is a bad answer
     * (502, once for a POST), and its connection is closed, never pooled.
     */
    @Test
    void aHeaderNameWithASpaceIsABadAnswerAndItsConnectionIsClosed() throws Exception {
        try (ServerSocket upstream = upstream()) {
            int port = sidecar(upstream);
            try (RawHttp client = new RawHttp(port)) {
                client.send("POST /bad-header-name HTTP/1.1\r\nHost: service-b\r\nContent-Length: 0\r\n\r\n");
                RawHttp.Response res = client.read();
                assertEquals(502, res.status(), res.toString());
                assertEquals("{\"error\": \"upstream sent a malformed response\", \"service\": \"service-b\"}", res.body().strip());
                assertFalse(res.headers().containsKey("bad"), res.toString());
                assertEquals(1, malformedAnswers.get(), "the instance answered: a POST is not sent again");
                assertNextRequestIsServedOnANewConnection(client);
            }
        }
    }

    /** Each kind of malformed field line is a failed attempt: five in a row open the breaker (failure_threshold 5). */
    @Test
    void malformedFieldLinesCountAsFailuresForTheBreaker() throws Exception {
        try (ServerSocket upstream = upstream()) {
            int port = sidecar(upstream);
            try (RawHttp client = new RawHttp(port)) {
                assertFiveBadAnswersOpenTheBreaker(client, "/bad-header-name", "/no-colon", "/no-colon-with-space", "/tab-in-name", "/fold-first");
            }
        }
    }

    /**
     * RFC 9112 2.3: a response whose status line has an HTTP version other than 1.x is malformed; Netty's
     * decoder takes any, and it was relayed as an HTTP/1.1 answer. It is a bad answer (502, once for a
     * POST) and its connection is closed, never pooled.
     */
    @Test
    void aStatusLineWithAVersionOtherThan1xIsABadAnswerAndItsConnectionIsClosed() throws Exception {
        try (ServerSocket upstream = upstream()) {
            int port = sidecar(upstream);
            try (RawHttp client = new RawHttp(port)) {
                client.send("POST /version/HTTP/2.0 HTTP/1.1\r\nHost: service-b\r\nContent-Length: 0\r\n\r\n");
                RawHttp.Response res = client.read();
                assertEquals(502, res.status(), res.toString());
                assertEquals("{\"error\": \"upstream sent a malformed response\", \"service\": \"service-b\"}", res.body().strip());
                assertEquals(1, malformedAnswers.get(), "the instance answered: a POST is not sent again");
                assertNextRequestIsServedOnANewConnection(client);
                client.send("GET /version/HTTP/9.9 HTTP/1.1\r\nHost: service-b\r\n\r\n");
                assertEquals(502, client.read().status());
                assertEquals(1 + 3, malformedAnswers.get(), "a GET is retried (max_retries 2)");
            }
        }
    }

    /** Five answers in a row with a version other than 1.x open the breaker (failure_threshold 5). */
    @Test
    void statusLinesWithAVersionOtherThan1xCountAsFailuresForTheBreaker() throws Exception {
        try (ServerSocket upstream = upstream()) {
            int port = sidecar(upstream);
            try (RawHttp client = new RawHttp(port)) {
                assertFiveBadAnswersOpenTheBreaker(client, "/version/HTTP/9.9", "/version/HTTP/2.0", "/version/HTTP/0.9",
                        "/version/HTTP/10.1", "/version/FOO/1.1");
            }
        }
    }

    /** RFC 9110 2.5: a higher minor version is processed as HTTP/1.1; an HTTP/1.0 answer is an answer too. */
    @Test
    void http10AndAHigherMinorVersionAreAnswers() throws Exception {
        try (ServerSocket upstream = upstream()) {
            int port = sidecar(upstream);
            try (RawHttp client = new RawHttp(port)) {
                for (String version : new String[] {"HTTP/1.2", "HTTP/1.0", "HTTP/1.1"}) {
                    client.send("POST /version/" + version + " HTTP/1.1\r\nHost: service-b\r\nContent-Length: 0\r\n\r\n");
                    RawHttp.Response res = client.read();
                    assertEquals(200, res.status(), version + ": " + res);
                    assertEquals("ok", res.body(), version);
                }
            }
        }
    }

    /** Five POSTs whose answers are malformed (each a 502, none sent again) open the breaker: the next is a fast 503. */
    private void assertFiveBadAnswersOpenTheBreaker(RawHttp client, String... paths) throws Exception {
        assertEquals(5, paths.length);
        for (String path : paths) {
            client.send("POST " + path + " HTTP/1.1\r\nHost: service-b\r\nContent-Length: 0\r\n\r\n");
            RawHttp.Response res = client.read();
            assertEquals(502, res.status(), path + ": " + res);
        }
        assertEquals(5, malformedAnswers.get());
        client.send("POST /next HTTP/1.1\r\nHost: service-b\r\nContent-Length: 0\r\n\r\n");
        RawHttp.Response next = client.read();
        assertEquals(503, next.status(), next.toString());
        assertEquals("open", next.headers().get("x-outrigger-breaker"));
    }

    private void assertNextRequestIsServedOnANewConnection(RawHttp client) throws Exception {
        client.send("POST /next HTTP/1.1\r\nHost: service-b\r\nContent-Length: 0\r\n\r\n");
        RawHttp.Response next = client.read();
        assertEquals(200, next.status(), "the POST got its own answer, not the stray bytes: " + next);
        assertEquals("/next", next.body());
        assertFalse(next.closes(), "the client's connection stays open: " + next);
        assertEquals(2, accepted.get(), "the POST went out on a new connection");
        SidecarHarness.await(Duration.ofSeconds(5), () -> closedBySidecar.get() == 1,
                "the connection that spoke out of turn to be closed");
    }

    /**
     * A raw upstream on 127.0.0.1: answers {@code /no-content-with-body} with a 204 followed by
     * "stray", {@code HEAD /head-with-body} with its head and the body a GET would get, {@code /late}
     * with a 204 and "stray" once {@link #sendLateBytes} opens, and any other path with 200 and the
     * path as body; {@code /early-hints} with a 103 before its 200, {@code /switch} with a 101 and a
     * WebSocket frame, {@code /bad-header-name} and the like with a 200 whose head holds a malformed
     * field line, {@code /version/V} with a 200 whose status line has the version V. Requests have no body.
     */
    private ServerSocket upstream() throws IOException {
        return SidecarHarness.acceptOnThread(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()), "out-of-step-connection",
                s -> {
                    accepted.incrementAndGet();
                    serve(s);
                });
    }

    private void serve(Socket s) {
        try (s; BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1))) {
            OutputStream out = s.getOutputStream();
            String line;
            while ((line = in.readLine()) != null) {
                String path = line.split(" ")[1];
                while (!in.readLine().isEmpty()) {
                    // the head's header lines
                }
                switch (path) {
                    case "/no-content-with-body" -> write(out, "HTTP/1.1 204 No Content\r\n\r\nstray");
                    case "/early-hints" -> write(out, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                            + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                    case "/hints-then-503" -> {
                        hintsThen503.incrementAndGet();
                        write(out, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                                + "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy");
                    }
                    case "/switch" -> write(out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n\u0081\u0002hi");
                    case "/bad-header-name" -> malformed(out, "Bad Header: x\r\n");
                    case "/no-colon" -> malformed(out, "Garbage\r\n");
                    case "/no-colon-with-space" -> malformed(out, "Garbage line\r\n");
                    case "/tab-in-name" -> malformed(out, "Bad\tHeader: x\r\n");
                    case "/fold-first" -> malformed(out, " X-Folded: x\r\n");
                    case "/version/HTTP/1.0", "/version/HTTP/1.1", "/version/HTTP/1.2" ->
                            write(out, path.substring("/version/".length()) + " 200 OK\r\nContent-Length: 2\r\n\r\nok");
                    case "/head-with-body" -> write(out, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray");
                    case "/late" -> {
                        write(out, "HTTP/1.1 204 No Content\r\n\r\n");
                        if (!sendLateBytes.await(10, TimeUnit.SECONDS)) {
                            return;
                        }
                        write(out, "stray");
                    }
                    default -> {
                        if (path.startsWith("/version/")) { // a 200 whose status line has that version
                            malformedAnswers.incrementAndGet();
                            write(out, path.substring("/version/".length()) + " 200 OK\r\nContent-Length: 2\r\n\r\nok");
                        } else {
                            write(out, "HTTP/1.1 200 OK\r\nContent-Length: " + path.length() + "\r\n\r\n" + path);
                        }
                    }
                }
            }
            closedBySidecar.incrementAndGet(); // end of input: the sidecar closed this connection
        } catch (IOException | InterruptedException | RuntimeException e) {
            closedBySidecar.incrementAndGet(); // a reset: closed as well
        }
    }

    /** A 200 whose head holds {@code line}, a malformed field line. */
    private void malformed(OutputStream out, String line) throws IOException {
        malformedAnswers.incrementAndGet();
        write(out, "HTTP/1.1 200 OK\r\n" + line + "Content-Length: 2\r\n\r\nok");
    }

    private static void write(OutputStream out, String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
    }
}

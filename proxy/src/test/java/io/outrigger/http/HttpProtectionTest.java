package io.outrigger.http;

import io.outrigger.Sidecar;
import io.outrigger.testing.Closer;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.OutputStream;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static io.outrigger.http.SidecarHarness.RESILIENCE;
import static io.outrigger.http.SidecarHarness.instance;
import static io.outrigger.http.SidecarHarness.raw;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad input and broken peers: each gets a clean answer or a closed connection, and the sidecar keeps serving. */
class HttpProtectionTest {
    @TempDir
    Path dir;

    @AutoClose
    private final Closer closeables = new Closer();
    private TestUpstream upstream;
    private int port;

    private void start() throws Exception {
        upstream = closeables.add(new TestUpstream());
        port = SidecarHarness.outboundTo(upstream, dir, closeables);
    }

    private void assertStillServes() throws Exception {
        String ok = raw(port, "GET /ok HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n");
        assertTrue(ok.startsWith("HTTP/1.1 200"), ok);
    }

    /**
     * Nothing of a refused request reached the upstream: after a valid request (a barrier: the refused one
     * had its chance to go out first), the upstream saw exactly that one request, on the one connection it
     * came on. A forwarded head whose body was cut short would have left a second connection.
     */
    private void assertNothingForwarded() throws Exception {
        assertStillServes();
        assertEquals(1, upstream.requestCount(), "only the valid request reached the upstream");
        assertEquals(1, upstream.connections.get(), "upstream connections");
    }

    /** {@code res}, all a connection got, is one 400 "malformed request" that closes it, and nothing reached the upstream. */
    private void assertRefusedAloneAsMalformed(String res) throws Exception {
        assertTrue(res.startsWith("HTTP/1.1 400"), res);
        assertTrue(res.contains("connection: close") && res.contains("\"error\": \"malformed request\""), res);
        assertEquals(1, res.split("HTTP/1.1 ").length - 1, "one answer only: " + res);
        assertNothingForwarded();
    }

    @Test
    void malformedRequestLineIs400AndClosed() throws Exception {
        start();
        String res = raw(port, "GET /a b c d\r\nHost: service-b\r\n\r\n");
        assertTrue(res.startsWith("HTTP/1.1 400"), res);
        assertTrue(res.contains("\"error\": \"malformed request\""), res);
        // A head that could not be read starts a new trace: the caller still gets ids to find the request by.
        assertTrue(res.matches("(?s).*x-request-id: [0-9a-f-]{36}\r\n.*"), res);
        assertTrue(res.matches("(?s).*traceparent: 00-[0-9a-f]{32}-[0-9a-f]{16}-01\r\n.*"), res);
        assertNothingForwarded();
    }

    @Test
    void invalidHeaderIs400() throws Exception {
        start();
        String res = raw(port, "GET / HTTP/1.1\r\nHost: service-b\r\nBad Header: x\r\n\r\n");
        assertTrue(res.startsWith("HTTP/1.1 400"), res);
        assertNothingForwarded();
    }

    /** RFC 9112 5.1: a server must reject a request with whitespace between a field name and its colon (400). */
    @ParameterizedTest
    @ValueSource(strings = {"Bad : x", "Bad\t: x", "Bad  :x", "Content-Length : 5"})
    void whitespaceBeforeTheColonIs400(String line) throws Exception {
        start();
        String res = raw(port, "POST / HTTP/1.1\r\nHost: service-b\r\n" + line + "\r\nContent-Length: 5\r\n\r\nhello");
        assertTrue(res.startsWith("HTTP/1.1 400"), res);
        assertTrue(res.endsWith("\r\n\r\n{\"error\": \"malformed request\", \"service\": null}\n"), res);
        assertNothingForwarded();
    }

    /**
     * A request refused behind valid ones pipelined before it is answered in its turn: the refusal (made when its
     * head or body is read, while the first request waits for its answer) was taken for the first request's, which
     * got the 400 instead of its answer and never reached the upstream.
     */
    @ParameterizedTest
    @ValueSource(strings = {
        "GET /second HTTP/1.1\r\nHost: service-b\r\nBad Header: x\r\n\r\n|400|/first",
        "GET /a b c d\r\nHost: service-b\r\n\r\n|400|/first",
        "POST /second HTTP/1.1\r\nHost: service-b\r\nContent-Length: 2000000\r\n\r\n|413|/first",
        "POST /second HTTP/1.1\r\nHost: service-b\r\nContent-Length: 2\r\n\r\nokGET /third HTTP/1.1\r\nBad : x\r\n\r\n|200 400|/first /second"
    })
    void aRefusedRequestPipelinedBehindValidOnesIsAnsweredInItsTurn(String pipelinedAndAnswers) throws Exception {
        start();
        String[] parts = pipelinedAndAnswers.split("\\|");
        String res = raw(port, "GET /first HTTP/1.1\r\nHost: service-b\r\n\r\n" + parts[0]);
        List<String> statuses = java.util.regex.Pattern.compile("HTTP/1.1 (\\d{3}) ").matcher(res).results().map(m -> m.group(1)).toList();
        assertEquals(List.of(("200 " + parts[1]).split(" ")), statuses, res);
        assertTrue(res.endsWith("\", \"service\": null}\n") || res.endsWith("\", \"service\": \"service-b\"}\n"), res);
        List<String> forwarded = new java.util.ArrayList<>();
        for (TestUpstream.Seen seen; (seen = upstream.requests.poll()) != null; ) {
            forwarded.add(seen.uri());
        }
        assertEquals(List.of(parts[2].split(" ")), forwarded, "the valid requests reached the upstream, in order");
    }

    /** The refused head behind a request that waits longer than header_timeout_ms (300) does not time the connection out. */
    @Test
    void aRefusedRequestPipelinedBehindASlowOneWaitsForItsTurn() throws Exception {
        start();
        upstream.delayMillis = 600;
        String res = raw(port, "GET /first HTTP/1.1\r\nHost: service-b\r\n\r\nGET /second HTTP/1.1\r\nBad : x\r\n\r\n");
        List<String> statuses = java.util.regex.Pattern.compile("HTTP/1.1 (\\d{3}) ").matcher(res).results().map(m -> m.group(1)).toList();
        assertEquals(List.of("200", "400"), statuses, res);
    }

    @Test
    void missingHostIs400() throws Exception {
        start();
        String res = raw(port, "GET / HTTP/1.0\r\n\r\n");
        assertTrue(res.startsWith("HTTP/1.1 400"), res);
    }

    @Test
    void connectIsRefusedWith400() throws Exception {
        start();
        String res = raw(port, "CONNECT service-b:443 HTTP/1.1\r\nHost: service-b:443\r\nConnection: close\r\n\r\n");
        assertTrue(res.startsWith("HTTP/1.1 400"), res);
        assertTrue(res.contains("CONNECT tunnels are not supported"), res);
        assertNothingForwarded();
    }

    /**
     * What follows a refused CONNECT, or a target in authority form, is not read as HTTP: the connection closes
     * after the 400, as nginx closes it. Bytes a client sends ahead for the tunnel it asked for (or a request
     * hidden behind them) were parsed as the next request and forwarded.
     */
    @ParameterizedTest
    @ValueSource(strings = {"CONNECT service-b:443 HTTP/1.1\r\nHost: service-b:443\r\n\r\n",
        "GET service-b:443 HTTP/1.1\r\nHost: service-b\r\n\r\n"})
    void nothingAfterATunnelRequestIsReadAsHttp(String tunnelRequest) throws Exception {
        start();
        String res = raw(port, tunnelRequest + "GET /tunneled HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n");
        assertTrue(res.startsWith("HTTP/1.1 400"), res);
        assertEquals(1, res.split("HTTP/1.1 ", -1).length - 1, "one answer, then the close: " + res);
        assertNothingForwarded();
    }

    /**
     * A body whose Content-Length the client names in Connection: stripped as a hop-by-hop header, the
     * body would reach the upstream unframed and be read there as a second request (whose answer the
     * next caller on that pooled connection would get). The framing stays; the upstream sees one request.
     */
    @Test
    void aConnectionHeaderNamingContentLengthCannotSmuggleARequest() throws Exception {
        start();
        String smuggled = "GET /smuggled HTTP/1.1\r\nHost: service-b\r\n\r\n";
        String res = raw(port, "POST /form HTTP/1.1\r\nHost: service-b\r\nConnection: content-length\r\nContent-Length: "
                + smuggled.length() + "\r\n\r\n" + smuggled + "GET /next HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n");
        List<String> bodies = java.util.regex.Pattern.compile("\"bytes\": (\\d+)").matcher(res).results().map(m -> m.group(1)).toList();
        assertEquals(List.of(Integer.toString(smuggled.length()), "0"), bodies, "each request got its own answer: " + res);
        TestUpstream.Seen form = upstream.requests.poll();
        assertEquals("/form", form.uri());
        assertEquals(smuggled.length(), form.bodyBytes(), "the embedded request arrived as the body");
        assertEquals("/next", upstream.requests.poll().uri());
        assertEquals(null, upstream.requests.poll(), "nothing else reached the upstream");
    }

    /**
     * Requests refused with 400 before they are routed, nothing of them forwarded: raw UTF-8 in the target
     * (not HTTP, RFC 9112 3.2; forwarded, its bytes came out re-encoded), a transfer coding under chunked
     * (relayed, it was silently dropped), two Hosts (RFC 9112 3.2: one could route, the other be served),
     * an https:// target (forwarded, it crossed the wire in plain text), targets in a form only CONNECT
     * or OPTIONS may use (RFC 9112 3.2), and Hosts or target authorities that are not host[:port]
     * (RFC 9112 3.2, RFC 9110 4.2.1 and 4.2.4): each was routed, or forwarded verbatim.
     */
    @ParameterizedTest
    @ValueSource(strings = {
        "GET /caf\u00c3\u00a9 HTTP/1.1\r\nHost: service-b\r\n\r\n|must be visible ASCII",
        "GET /a\u007fb HTTP/1.1\r\nHost: service-b\r\n\r\n|must be visible ASCII",
        "POST / HTTP/1.1\r\nHost: service-b\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n|unsupported transfer coding",
        "GET / HTTP/1.1\r\nHost: service-b\r\nHost: elsewhere\r\n\r\n|malformed request",
        "GET https://service-b/secret HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n|only http:// targets",
        "GET ftp://service-b/file HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n|only http:// targets",
        "GET * HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n|request target must be",
        "GET service-b:443 HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n|request target must be",
        "GET / HTTP/1.1\r\nHost: service-b:abc\r\nConnection: close\r\n\r\n|invalid Host",
        "GET / HTTP/1.1\r\nHost: service-b:99999\r\nConnection: close\r\n\r\n|invalid Host",
        "GET / HTTP/1.1\r\nHost: service-b:80:80\r\nConnection: close\r\n\r\n|invalid Host",
        "GET / HTTP/1.1\r\nHost: service b\r\nConnection: close\r\n\r\n|invalid Host",
        "GET / HTTP/1.1\r\nHost: service-b/evil\r\nConnection: close\r\n\r\n|invalid Host",
        "GET http://user:pw@service-b/x HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n|invalid Host",
        "GET http:///x HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n|invalid Host",
        "GET http://service-\u0001b/x HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n|invalid Host",
        "GET http://service-b\u007f/x HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n|invalid Host"
    })
    void refusedBeforeRoutingWith400(String requestAndReason) throws Exception {
        start();
        String[] parts = requestAndReason.split("\\|");
        String res = raw(port, parts[0]);
        assertTrue(res.startsWith("HTTP/1.1 400") && res.contains(parts[1]), res);
        assertNothingForwarded();
    }

    /**
     * A target authority with a control byte (which Netty's decoder lets through in the request line, but not in a
     * header value) is refused in its turn like any invalid authority: pipelined behind another request, and on a
     * head refused for its body's size. Rewriting it into {@code Host} threw: the request got no answer, and a
     * pipelined one left its connection open and waiting with nothing to end it.
     */
    @ParameterizedTest
    @ValueSource(strings = {
        "GET /first HTTP/1.1\r\nHost: service-b\r\n\r\nGET http://service-\u0001b/x HTTP/1.1\r\nHost: service-b\r\n"
            + "Connection: close\r\n\r\n|200|400",
        "GET /first HTTP/1.1\r\nHost: service-b\r\n\r\nPOST http://service-\u0000b/x HTTP/1.1\r\nHost: service-b\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n|200|400",
        "POST http://service-\u0001b/x HTTP/1.1\r\nHost: service-b\r\nContent-Length: 2000000\r\n\r\n|413"
    })
    void aControlByteInTheTargetAuthorityIsAnsweredInItsTurn(String requestAndStatuses) throws Exception {
        start();
        String[] parts = requestAndStatuses.split("\\|");
        String res = new String(SidecarHarness.rawLenient(port, parts[0].getBytes(StandardCharsets.ISO_8859_1)), StandardCharsets.ISO_8859_1);
        List<String> statuses = java.util.regex.Pattern.compile("HTTP/1\\.1 (\\d{3}) ").matcher(res).results().map(m -> m.group(1)).toList();
        assertEquals(List.of(parts).subList(1, parts.length), statuses, res);
        assertTrue(res.contains("connection: close"), res);
        assertStillServes();
    }

    @Test
    void httpVersionOtherThanOneIs505() throws Exception {
        start();
        // No Connection: close from the client: the sidecar ends the connection itself, as the admin listener does,
        // since what such a client sends next cannot be read as HTTP/1.1 (raw() reads until the close).
        String res = raw(port, "GET / HTTP/2.0\r\nHost: service-b\r\n\r\n");
        assertTrue(res.startsWith("HTTP/1.1 505") && res.contains("only HTTP/1.0 and HTTP/1.1"), res);
        assertTrue(res.toLowerCase(java.util.Locale.ROOT).contains("connection: close"), res);
        assertNothingForwarded();
    }

    /**
     * Targets rewritten on the way (RFC 9112 3.2): a fragment is never sent, in absolute or origin form
     * (forwarded, {@code /public#/../admin} could be another path to the next hop), an absolute OPTIONS without
     * a path becomes OPTIONS *, OPTIONS * passes as it is, and an IPv4 Host with a port routes by name
     * when the absolute form names the service (the Host is then ignored, RFC 9112 3.2.2).
     */
    @Test
    void targetsAreForwardedInOriginForm() throws Exception {
        start();
        String res = raw(port, "GET http://service-b/abs?q=1#frag HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n"
                + "OPTIONS http://SERVICE-B HTTP/1.1\r\nHost: service-b\r\n\r\n"
                + "OPTIONS * HTTP/1.1\r\nHost: service-b\r\n\r\n"
                + "GET /public?q=1#/../admin HTTP/1.1\r\nHost: service-b\r\n\r\n"
                + "GET /#x HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n");
        assertEquals(5, res.split("HTTP/1.1 200").length - 1, res);
        assertEquals("/abs?q=1", upstream.requests.poll().uri());
        TestUpstream.Seen options = upstream.requests.poll();
        assertEquals("*", options.uri());
        assertEquals("SERVICE-B", options.headers().get("host"));
        assertEquals("*", upstream.requests.poll().uri());
        assertEquals("/public?q=1", upstream.requests.poll().uri());
        assertEquals("/", upstream.requests.poll().uri());
    }

    @Test
    void headerBlockTooLargeIs431AndClosed() throws Exception {
        start();
        String res = raw(port, "GET / HTTP/1.1\r\nHost: service-b\r\nX-Big: " + "a".repeat(8000) + "\r\n\r\n");
        assertTrue(res.startsWith("HTTP/1.1 431"), res);
        assertNothingForwarded();
    }

    @Test
    void requestLineTooLongIs414AndClosed() throws Exception {
        start();
        String res = raw(port, "GET /" + "a".repeat(9000) + " HTTP/1.1\r\nHost: service-b\r\n\r\n");
        assertTrue(res.startsWith("HTTP/1.1 414"), res);
        assertTrue(res.contains("connection: close") && res.contains("\"error\": \"request line too long\""), res);
        assertNothingForwarded();
    }

    /**
     * A client that pipelines more requests than the sidecar holds unanswered: those within the bound are
     * each answered (none is forwarded without its answer reaching the client), the first past it is
     * refused in its turn, and the connection closes, so the client knows none of the rest was carried out.
     */
    @Test
    void pipelinedRequestsPastTheBoundAreRefusedAfterTheAnswersToTheOnesWithin() throws Exception {
        start();
        // In one write: reads soon take in more requests at once than the bound (answers drain it between reads).
        int sent = 20 * HttpListenerCodec.MAX_PIPELINE_DEPTH;
        String res = raw(port, "GET /p HTTP/1.1\r\nHost: service-b\r\n\r\n".repeat(sent));
        int ok = res.split("HTTP/1.1 200 ").length - 1;
        assertTrue(ok >= HttpListenerCodec.MAX_PIPELINE_DEPTH && ok < sent, "answered: " + ok + " ending: " + res.substring(Math.max(0, res.length() - 400)));
        assertEquals(ok, upstream.requests.size(), "each request forwarded was answered");
        String refusal = res.substring(res.lastIndexOf("HTTP/1.1 "));
        assertTrue(refusal.startsWith("HTTP/1.1 400") && refusal.contains("connection: close") && refusal.contains("pipelined"), refusal);
    }

    /**
     * The head of a pipelined request split between reads waits unread while the requests before it are
     * answered (the sidecar reads no more meanwhile): that wait is the sidecar's, not the client's, and
     * does not count against {@code http.header_timeout_ms} (300 ms here; each answer takes 400 ms).
     */
    @Test
    void aPipelinedHeadLeftUnreadByTheSidecarIsNotTimedOut() throws Exception {
        upstream = closeables.add(new TestUpstream());
        upstream.delayMillis = 400;
        port = closeables.add(SidecarHarness.start(SidecarHarness.registry(dir, "\"service-b\": [" + instance(upstream.port()) + "]"),
                RESILIENCE.replace("request_ms: 1000", "request_ms: 5000"))).boundPorts().get("outbound");
        try (java.net.Socket client = new java.net.Socket("127.0.0.1", port)) {
            client.setSoTimeout(5000);
            java.io.OutputStream out = client.getOutputStream();
            // A and B whole, and the start of C: B waits in the queue, so the sidecar reads no more.
            out.write(("GET /a HTTP/1.1\r\nHost: service-b\r\n\r\nGET /b HTTP/1.1\r\nHost: service-b\r\n\r\nGET /c HTTP/1.1\r\nHo")
                    .getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            SidecarHarness.await(Duration.ofSeconds(5), () -> upstream.requests.size() == 1, "request A to reach the instance");
            out.write("st: service-b\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1)); // the rest of C, at once
            out.flush();
            String res = new String(client.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            assertEquals(3, res.split("HTTP/1.1 200 ").length - 1, res);
            assertEquals(3, upstream.requests.size());
        }
    }

    /** A chunk-size line over the line limit is a malformed body, not a long request line: 400, not 414. */
    @Test
    void chunkLineTooLongIs400() throws Exception {
        start();
        String res = raw(port, "POST / HTTP/1.1\r\nHost: service-b\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=" + "e".repeat(9000)
                + "\r\nabc\r\n0\r\n\r\n");
        assertTrue(res.startsWith("HTTP/1.1 400"), res);
        assertTrue(res.contains("connection: close") && res.contains("\"error\": \"malformed request\""), res);
    }

    @Test
    void contentLengthWithTransferEncodingIs400AndNothingForwarded() throws Exception {
        start();
        String res = raw(port, "POST / HTTP/1.1\r\nHost: service-b\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5\r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: service-b\r\n\r\n");
        assertTrue(res.startsWith("HTTP/1.1 400"), res);
        assertTrue(res.contains("connection: close"), res);
        assertEquals(1, res.split("HTTP/1.1 ").length - 1, "one answer only: " + res);
        assertNothingForwarded();
    }

    /**
     * Two Content-Length fields in an HTTP/1.0 request (Netty's decoder checks for one in HTTP/1.1 only, and
     * reads a 1.0 body by the first): a hop before the sidecar that reads it by the other one takes different
     * bytes for the next request, so the sidecar refuses it as it refuses two in HTTP/1.1, whether they agree
     * or not, and nothing on the connection reaches the upstream.
     */
    @ParameterizedTest
    @ValueSource(strings = {"24|26", "24| 24", "24|+26", "24|abc"})
    void twoContentLengthsInHttp10Are400AndNothingForwarded(String lengths) throws Exception {
        start();
        String[] cl = lengths.split("\\|");
        String res = raw(port, "POST /one HTTP/1.0\r\nHost: service-b\r\nConnection: keep-alive\r\nContent-Length: " + cl[0]
                + "\r\nContent-Length: " + cl[1] + "\r\n\r\n" + "abcdefghijklmnopqrstuvwx"
                + "GET /smuggled HTTP/1.0\r\nHost: service-b\r\n\r\n");
        assertRefusedAloneAsMalformed(res);
    }

    /**
     * A version whose name is not {@code HTTP} in capitals (RFC 9112 2.3): Netty would read {@code http/1.0} as a
     * version that keeps the connection alive, where a hop before the sidecar closes after it, and serve the bytes
     * after it as a second request. Refused, closed, nothing forwarded.
     */
    @ParameterizedTest
    @ValueSource(strings = {"http/1.0", "Http/1.1", "FOO/1.0", "HTTPS/1.1"})
    void aVersionNotNamedHttpIs400AndNothingForwarded(String version) throws Exception {
        start();
        String res = raw(port, "GET /one " + version + "\r\nHost: service-b\r\n\r\n" + "GET /smuggled HTTP/1.1\r\nHost: service-b\r\n\r\n");
        assertRefusedAloneAsMalformed(res);
    }

    @Test
    void bodyOverLimitIs413() throws Exception {
        start();
        String declared = raw(port, "POST / HTTP/1.1\r\nHost: service-b\r\nContent-Length: 2000000\r\nx-request-id: big-1\r\n"
                + "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n");
        assertTrue(declared.startsWith("HTTP/1.1 413"), declared);
        // Refused before any exchange began, yet answered like every other error: the service named, the trace continued.
        assertTrue(declared.contains("\"service\": \"service-b\""), declared);
        assertTrue(declared.contains("x-request-id: big-1\r\n"), declared);
        assertTrue(declared.matches("(?s).*traceparent: 00-0af7651916cd43dd8448eb211c80319c-(?!b7ad6b7169203331)[0-9a-f]{16}-01\r\n.*"), declared);
        StringBuilder chunked = new StringBuilder("POST / HTTP/1.1\r\nHost: service-b\r\nTransfer-Encoding: chunked\r\n\r\n");
        String piece = "x".repeat(65536);
        for (int i = 0; i < 20; i++) {
            chunked.append("10000\r\n").append(piece).append("\r\n");
        }
        chunked.append("0\r\n\r\n");
        String counted = rawLenient(chunked.toString());
        assertTrue(counted.startsWith("HTTP/1.1 413"), counted.isEmpty() ? "(closed)" : counted.substring(0, 40));
        assertStillServes();
    }

    /**
     * The classic lost 413: the client is still uploading when the answer comes. Closed at once, the
     * connection would be reset under the client's unread answer; lingering, the sidecar reads and drops
     * the upload, and the client reads the whole 413 and then the end of the stream.
     */
    @Test
    void a413ReachesAClientStillUploading() throws Exception {
        start();
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            s.getOutputStream().write("POST /upload HTTP/1.1\r\nHost: service-b\r\nContent-Length: 8000000\r\n\r\n"
                    .getBytes(StandardCharsets.ISO_8859_1));
            java.util.concurrent.CompletableFuture<Void> upload = java.util.concurrent.CompletableFuture.runAsync(() -> {
                byte[] chunk = new byte[64 * 1024];
                try {
                    for (int sent = 0; sent < 8_000_000; sent += chunk.length) {
                        s.getOutputStream().write(chunk);
                    }
                } catch (IOException e) {
                    // the sidecar ends the connection once it has answered: the rest of the upload is not wanted
                }
            });
            String res = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1); // throws on a reset
            assertTrue(res.startsWith("HTTP/1.1 413") && res.contains("\"error\": \"request body too large\""), res);
            upload.get(10, java.util.concurrent.TimeUnit.SECONDS);
        }
        assertEquals(0, upstream.requestCount());
    }

    /**
     * An instance that answers an upload early (a 413 it decides on from the head) and then closes with the
     * body unread resets the connection, and the sidecar's next write of the body fails. The answer came
     * first and is in the sidecar's receive buffer: it must reach the client, not a 502 "reset". Before the
     * write failure only shut the upstream's sending side, about half of such requests got the 502; twenty
     * rounds all get the 413. The client asks for the connection's close: reading its answer to the end takes
     * the close, and when the sidecar happens to have the whole upload before the 413 arrives it would
     * otherwise, rightly, keep the client's connection open for a next request.
     */
    @Test
    void anEarlyAnswerFollowedByAResetStillReachesTheClient() throws Exception {
        ServerSocket instance = closeables.add(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
        Thread answering = new Thread(() -> {
            while (!instance.isClosed()) {
                try (Socket c = instance.accept()) {
                    InputStream in = c.getInputStream();
                    int matched = 0;
                    while (matched < 4) { // up to the end of the head
                        int b = in.read();
                        if (b < 0) {
                            break;
                        }
                        matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : b == '\r' ? 1 : 0;
                    }
                    c.getOutputStream().write("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoolarge"
                            .getBytes(StandardCharsets.ISO_8859_1));
                    c.setSoLinger(true, 0); // the close resets: the body is never read
                } catch (IOException e) {
                    // the test ended, or the sidecar gave up on this connection
                }
            }
        }, "early-answer-instance");
        answering.setDaemon(true);
        answering.start();
        Sidecar s = closeables.add(SidecarHarness.start(SidecarHarness.registry(dir, "\"service-b\": [" + instance(instance.getLocalPort()) + "]"),
                RESILIENCE.replace("max_body_bytes: 1048576", "max_body_bytes: 0")));
        port = s.boundPorts().get("outbound");
        byte[] upload = new byte[4_000_000];
        byte[] head = ("POST /upload HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\nContent-Length: " + upload.length + "\r\n\r\n")
                .getBytes(StandardCharsets.ISO_8859_1);
        byte[] request = java.util.Arrays.copyOf(head, head.length + upload.length);
        List<String> answers = new java.util.ArrayList<>();
        for (int round = 0; round < 20; round++) {
            String res = new String(SidecarHarness.rawLenient(port, request), StandardCharsets.ISO_8859_1);
            answers.add(res.isEmpty() ? "(nothing)" : res.substring(0, res.indexOf("\r\n")));
        }
        assertEquals(java.util.Collections.nCopies(20, "HTTP/1.1 413 Payload Too Large"), answers);
    }

    /** As HAProxy and Envoy answer it: a 408 with a JSON body, then the connection closes. Nothing is forwarded. */
    @Test
    void slowHeadersGet408AndAreClosedAfterHeaderTimeout() throws Exception {
        start();
        long start = System.nanoTime(); // before the connection: the sidecar's header timer starts when it accepts
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(3000);
            OutputStream out = s.getOutputStream();
            out.write("GET / HTTP/1.1\r\nHost: serv".getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            String res = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(res.startsWith("HTTP/1.1 408 Request Timeout\r\n"), res);
            assertTrue(res.contains("\r\nconnection: close\r\n"), res);
            assertTrue(res.contains("\"error\": \"request headers not received within http.header_timeout_ms\""), res);
            assertTrue(millis >= 250 && millis < 2000, "answered and closed after " + millis + " ms (header_timeout_ms 300)");
        }
        assertNothingForwarded();
    }

    /**
     * A 408 is measured from the head's first byte: it took header_timeout_ms (300), and the latency histogram and
     * the access log said it took no time at all (every refusal before an exchange was recorded as 0 ns).
     */
    @Test
    void a408IsMeasuredFromTheFirstByteOfItsHead() throws Exception {
        upstream = closeables.add(new TestUpstream());
        java.util.concurrent.BlockingQueue<long[]> exchanges = new java.util.concurrent.LinkedBlockingQueue<>();
        Sidecar s = recordingSidecar(upstream.port(), exchanges);
        String res = raw(s.boundPorts().get("outbound"), "GET / HTTP/1.1\r\nHost: serv");
        assertTrue(res.startsWith("HTTP/1.1 408 Request Timeout\r\n"), res);
        long[] recorded = exchanges.poll(5, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(408, recorded[0]);
        assertTrue(recorded[1] >= java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(250), "recorded " + recorded[1] + " ns");
    }

    /** A started sidecar routing service-b to {@code upstreamPort}, whose exchanges go to {@code exchanges} as {status, nanos}. */
    private Sidecar recordingSidecar(int upstreamPort, java.util.concurrent.BlockingQueue<long[]> exchanges) throws Exception {
        io.outrigger.metrics.ProxyMetrics recording = new io.outrigger.metrics.ProxyMetrics() {
            @Override
            public void onExchange(String edge, String service, io.outrigger.discovery.Endpoint instance, int status, int attempts,
                                   long durationNanos) {
                exchanges.add(new long[] {status, durationNanos});
            }
        };
        Path registry = SidecarHarness.registry(dir, "\"service-b\": [" + instance(upstreamPort) + "]");
        return closeables.add(SidecarHarness.startReportingTo(registry, recording));
    }

    /**
     * A response cut off after its head went to the client is logged and counted with the status of what cut it
     * (as the drain's cut is a 503 and a client that left a 499), not as the 200 the client got: a 502 when the
     * instance broke it off, a 504 when request_ms ran out during it. Both read as successes before.
     */
    @Test
    void aResponseCutOffIsCountedWithTheStatusOfItsCause() throws Exception {
        upstream = closeables.add(new TestUpstream());
        upstream.closeMidResponse = true;
        java.util.concurrent.BlockingQueue<long[]> exchanges = new java.util.concurrent.LinkedBlockingQueue<>();
        Sidecar s = recordingSidecar(upstream.port(), exchanges);
        String res = raw(s.boundPorts().get("outbound"), "GET / HTTP/1.1\r\nHost: service-b\r\n\r\n");
        assertTrue(res.startsWith("HTTP/1.1 200") && res.endsWith("partial"), res);
        long[] recorded = exchanges.poll(5, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(502, recorded[0], "broken off by the instance");

        // An instance that sends its head and 10 of 100 bytes, then nothing: request_ms (1000) runs out mid-response.
        java.net.ServerSocket stalling = closeables.add(new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress()));
        Thread t = new Thread(() -> {
            try (Socket c = stalling.accept()) {
                c.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789".getBytes(StandardCharsets.ISO_8859_1));
                c.getInputStream().readAllBytes(); // until the sidecar gives up and closes
            } catch (IOException e) {
                // the test ended
            }
        }, "stalls-mid-response");
        t.setDaemon(true);
        t.start();
        Sidecar timing = recordingSidecar(stalling.getLocalPort(), exchanges);
        res = raw(timing.boundPorts().get("outbound"), "GET / HTTP/1.1\r\nHost: service-b\r\n\r\n");
        assertTrue(res.startsWith("HTTP/1.1 200") && res.endsWith("0123456789"), res);
        recorded = exchanges.poll(5, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(504, recorded[0], "cut by request_ms");
    }

    /**
     * What was relayed of a response before it broke off reaches the client before the close: an instance that
     * sends a head, a chunk and then a malformed chunk line in one write. The head and chunk were written but not
     * flushed when the close came, and the client got an empty reply.
     */
    @Test
    void whatWasRelayedBeforeAMalformedChunkReachesTheClient() throws Exception {
        ServerSocket server = closeables.add(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
        Thread t = new Thread(() -> {
            try (Socket c = server.accept()) {
                java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(c.getInputStream(),
                        StandardCharsets.ISO_8859_1));
                while (!in.readLine().isEmpty()) {
                    // the request head: no body
                }
                c.getOutputStream().write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n"
                        .getBytes(StandardCharsets.ISO_8859_1));
                in.read(); // until the sidecar closes
            } catch (IOException e) {
                // the test ended
            }
        }, "malformed-chunk");
        t.setDaemon(true);
        t.start();
        int port = closeables.add(SidecarHarness.start(SidecarHarness.registry(dir, "\"service-b\": [" + instance(server.getLocalPort()) + "]"),
                RESILIENCE)).boundPorts().get("outbound");
        String res = raw(port, "GET / HTTP/1.1\r\nHost: service-b\r\n\r\n");
        assertTrue(res.startsWith("HTTP/1.1 200") && res.contains("hello"), "the head and the first chunk: " + res);
    }

    /**
     * A head that times out behind a request still being answered gets its 408 in its turn: the answer
     * before it is not cut (the connection used to be closed under it), and then the connection closes.
     */
    @Test
    void aHeadTimingOutBehindASlowAnswerGets408AfterThatAnswer() throws Exception {
        start();
        upstream.delayMillis = 700;
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write("GET /first HTTP/1.1\r\nHost: service-b\r\n\r\nGET /second HTTP/1.1\r\nHo".getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            String res = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            List<String> statuses = java.util.regex.Pattern.compile("HTTP/1.1 (\\d{3}) ").matcher(res).results().map(m -> m.group(1)).toList();
            assertEquals(List.of("200", "408"), statuses, res);
        }
        assertEquals("/first", upstream.requests.poll().uri());
        assertEquals(null, upstream.requests.poll(), "the timed-out request was not forwarded");
    }

    /**
     * A client that stops sending its request body half-way is closed after {@code http.idle_timeout_ms},
     * as an idle keep-alive connection is: the request deadline only starts at the body's end, so
     * nothing else would ever end the exchange. Both kinds of body: one kept for replay (the upstream
     * not called yet) and one streamed (its upstream connection is closed too).
     */
    @ParameterizedTest
    @ValueSource(ints = {10, 1_000_000})
    void aClientThatStopsSendingItsBodyIsClosedAfterTheIdleTimeout(int contentLength) throws Exception {
        upstream = closeables.add(new TestUpstream());
        Sidecar s = closeables.add(SidecarHarness.start(SidecarHarness.registry(dir, "\"service-b\": [" + instance(upstream.port()) + "]"),
                RESILIENCE.replace("request_ms: 1000", "request_ms: 60000").replace("http: {", "http: { idle_timeout_ms: 300,")));
        port = s.boundPorts().get("outbound");
        try (Socket client = new Socket("127.0.0.1", port)) {
            client.setSoTimeout(5000);
            long start = System.nanoTime(); // before the write: the sidecar's idle timer starts from its last read of it
            client.getOutputStream().write(("POST / HTTP/1.1\r\nHost: service-b\r\nContent-Length: " + contentLength + "\r\n\r\nabc")
                    .getBytes(StandardCharsets.ISO_8859_1));
            client.getOutputStream().flush();
            assertEquals(-1, client.getInputStream().read(), "closed without an answer");
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(millis >= 250 && millis < 3000, "closed after " + millis + " ms (idle_timeout_ms 300)");
        }
        SidecarHarness.await(Duration.ofSeconds(3), () -> upstream.closedConnections.get() == upstream.connections.get(),
                "every upstream connection to close");
        assertEquals(0, upstream.requestCount());
        assertStillServes();
    }

    /**
     * An instance that takes none of an upload (accepts, never reads) stops the client too, with reads
     * off for backpressure; the request deadline only starts at the body's end, so the exchange hung for
     * good, holding both connections and their buffers. After {@code http.idle_timeout_ms} without the
     * instance taking any of it, the client gets a {@code 504} and the instance's connection is closed.
     */
    @Test
    void anInstanceThatReadsNoneOfAnUploadTimesOutAfterTheIdleTimeout() throws Exception {
        List<Socket> accepted = new java.util.concurrent.CopyOnWriteArrayList<>();
        ServerSocket instance = neverReadingInstance(accepted);
        port = startWithIdleTimeout300(instance.getLocalPort());
        try (Socket client = new Socket("127.0.0.1", port)) {
            client.setSoTimeout(10_000);
            client.getOutputStream().write("POST /upload HTTP/1.1\r\nHost: service-b\r\nContent-Length: 100000000\r\n\r\n"
                    .getBytes(StandardCharsets.ISO_8859_1));
            java.util.concurrent.CompletableFuture<Void> upload = uploadInBackground(client, 100_000_000);
            String res = new String(client.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            assertTrue(res.startsWith("HTTP/1.1 504") && res.contains("\"error\": \"upstream timed out\""), res);
            upload.get(10, java.util.concurrent.TimeUnit.SECONDS);
        }
        SidecarHarness.await(Duration.ofSeconds(5), () -> accepted.size() == 1 && isClosedByPeer(accepted.get(0)),
                "the instance's connection closed by the sidecar");
    }

    /**
     * Sixteen uploads at once to an instance that reads none of them each end as a timeout, the sidecar holding back
     * every client. With the io_uring read ring (on by default until this test), none got its 504 within 10 s: Netty
     * 4.2.18 arms the next receive whenever the kernel finds the ring empty, whether or not the connection asked for
     * a read, so the clients' bytes kept coming (the sidecar grew to 2.8 GB resident).
     */
    @Test
    void manyUploadsToAnInstanceThatReadsNoneAllTimeOut() throws Exception {
        List<Socket> accepted = new java.util.concurrent.CopyOnWriteArrayList<>();
        ServerSocket instance = neverReadingInstance(accepted);
        port = startWithIdleTimeout300(instance.getLocalPort());
        int clients = 16;
        java.util.concurrent.ExecutorService callers = java.util.concurrent.Executors.newCachedThreadPool();
        closeables.add(callers::shutdownNow);
        List<java.util.concurrent.Future<String>> answers = new java.util.ArrayList<>();
        for (int i = 0; i < clients; i++) {
            answers.add(callers.submit(() -> {
                try (Socket client = new Socket("127.0.0.1", port)) {
                    client.setSoTimeout(10_000);
                    client.getOutputStream().write("POST /upload HTTP/1.1\r\nHost: service-b\r\nContent-Length: 100000000\r\n\r\n"
                            .getBytes(StandardCharsets.ISO_8859_1));
                    uploadInBackground(client, 100_000_000);
                    return new String(client.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
                } catch (IOException e) {
                    return e.toString();
                }
            }));
        }
        for (java.util.concurrent.Future<String> answer : answers) {
            String res = answer.get(30, java.util.concurrent.TimeUnit.SECONDS);
            assertTrue(res.startsWith("HTTP/1.1 504") && res.contains("\"error\": \"upstream timed out\""),
                    res.length() > 300 ? res.substring(0, 300) : res);
        }
    }

    /**
     * An instance that answers at once and streams its answer for longer than {@code idle_timeout_ms},
     * leaving the rest of the upload unread, is alive: its answer is relayed whole, not cut as a stall.
     */
    @Test
    void anInstanceStreamingItsAnswerWhileTheUploadWaitsIsNotCutAtTheIdleTimeout() throws Exception {
        int chunks = 12;
        int chunkBytes = 1000;
        ServerSocket instance = closeables.add(smallBufferInstance());
        Thread answering = new Thread(() -> {
            try (Socket c = instance.accept()) {
                java.io.OutputStream out = c.getOutputStream();
                out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + chunks * chunkBytes + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
                for (int i = 0; i < chunks; i++) {
                    Thread.sleep(100); // a slow download: 1.2 s in all, four idle timeouts, never reading the upload
                    out.write(new byte[chunkBytes]);
                    out.flush();
                }
                c.getInputStream().readAllBytes(); // until the sidecar closes
            } catch (IOException | InterruptedException e) {
                // the test ended
            }
        }, "streaming-instance");
        answering.setDaemon(true);
        answering.start();
        port = startWithIdleTimeout300(instance.getLocalPort());
        try (Socket client = new Socket("127.0.0.1", port)) {
            client.setSoTimeout(10_000);
            client.getOutputStream().write("POST /download HTTP/1.1\r\nHost: service-b\r\nContent-Length: 100000000\r\n\r\n"
                    .getBytes(StandardCharsets.ISO_8859_1));
            java.util.concurrent.CompletableFuture<Void> upload = uploadInBackground(client, 100_000_000);
            InputStream in = client.getInputStream();
            StringBuilder head = new StringBuilder();
            while (!head.toString().endsWith("\r\n\r\n")) {
                int b = in.read();
                assertTrue(b >= 0, "closed before the head ended: " + head);
                head.append((char) b);
            }
            assertTrue(head.toString().startsWith("HTTP/1.1 200"), head.toString());
            byte[] body = in.readNBytes(chunks * chunkBytes);
            assertEquals(chunks * chunkBytes, body.length, "the whole answer, not one cut at the idle timeout");
            client.close();
            upload.get(10, java.util.concurrent.TimeUnit.SECONDS);
        }
    }

    /** An instance with a small receive buffer that accepts connections (into {@code accepted}) and never reads; closed at the end. */
    private ServerSocket neverReadingInstance(List<Socket> accepted) throws IOException {
        ServerSocket instance = closeables.add(smallBufferInstance());
        closeables.add(() -> {
            for (Socket c : accepted) {
                c.close();
            }
        });
        Thread acceptor = new Thread(() -> {
            try {
                while (true) {
                    accepted.add(instance.accept()); // and never read
                }
            } catch (IOException e) {
                // the test ended
            }
        }, "never-reading-instance");
        acceptor.setDaemon(true);
        acceptor.start();
        return instance;
    }

    /** A listening instance with a small receive buffer, so what it leaves unread backs up at once. */
    private static ServerSocket smallBufferInstance() throws IOException {
        ServerSocket instance = new ServerSocket();
        instance.setReceiveBufferSize(4096);
        instance.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        return instance;
    }

    /** A sidecar routing service-b to {@code instancePort}, idle_timeout_ms 300 and no other limit near; its outbound port. */
    private int startWithIdleTimeout300(int instancePort) throws Exception {
        Sidecar s = closeables.add(SidecarHarness.start(SidecarHarness.registry(dir, "\"service-b\": [" + instance(instancePort) + "]"),
                RESILIENCE.replace("request_ms: 1000", "request_ms: 60000").replace("max_body_bytes: 1048576", "max_body_bytes: 0")
                        .replace("http: {", "http: { idle_timeout_ms: 300,")));
        return s.boundPorts().get("outbound");
    }

    /** Writes {@code bytes} of body to {@code client} on another thread until done or the sidecar ends the connection. */
    private static java.util.concurrent.CompletableFuture<Void> uploadInBackground(Socket client, long bytes) {
        return java.util.concurrent.CompletableFuture.runAsync(() -> {
            byte[] chunk = new byte[64 * 1024];
            try {
                for (long sent = 0; sent < bytes; sent += chunk.length) {
                    client.getOutputStream().write(chunk);
                }
            } catch (IOException e) {
                // the sidecar ended the connection once it had answered
            }
        });
    }

    /** Whether the peer closed {@code c}: a read past what it sent ends (or resets) at once. */
    private static boolean isClosedByPeer(Socket c) {
        try {
            c.setSoTimeout(50);
            InputStream in = c.getInputStream();
            byte[] drain = new byte[64 * 1024];
            while (true) {
                if (in.read(drain) < 0) {
                    return true;
                }
            }
        } catch (java.net.SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    /**
     * One event loop carries every connection here, so anything that held it (a blocking wait on a slow
     * client or a slow upstream) would hold the other request too: that one is answered while a client
     * dawdles over its body and another request waits 3 s for a slow upstream.
     */
    @Test
    void slowClientsAndSlowUpstreamsDoNotDelayAnotherConnection() throws Exception {
        upstream = new TestUpstream();
        closeables.add(upstream);
        TestUpstream slowUpstream = new TestUpstream();
        closeables.add(slowUpstream);
        slowUpstream.delayMillis = 3000;
        Sidecar s = SidecarHarness.start(SidecarHarness.registry(dir, "\"service-b\": [" + instance(upstream.port()) + "], "
                + "\"service-slow\": [" + instance(slowUpstream.port()) + "]"), RESILIENCE.replace("request_ms: 1000", "request_ms: 10000"), 1);
        closeables.add(s);
        port = s.boundPorts().get("outbound");
        try (Socket slowClient = new Socket("127.0.0.1", port); Socket waiting = new Socket("127.0.0.1", port)) {
            slowClient.getOutputStream().write("POST / HTTP/1.1\r\nHost: service-b\r\nContent-Length: 100\r\n\r\nabc"
                    .getBytes(StandardCharsets.ISO_8859_1));
            waiting.getOutputStream().write("GET /slow HTTP/1.1\r\nHost: service-slow\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            SidecarHarness.await(Duration.ofSeconds(3), () -> slowUpstream.connections.get() == 1, "the slow request upstream");
            long start = System.nanoTime();
            assertStillServes();
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(millis < 1500, "served in " + millis + " ms while another client dawdles and another request waits 3 s");
        }
    }

    @Test
    void upstreamClosingBeforeAnsweringGives502() throws Exception {
        start();
        upstream.closeBeforeResponse = true;
        String res = raw(port, "POST / HTTP/1.1\r\nHost: service-b\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx");
        assertTrue(res.startsWith("HTTP/1.1 502"), res);
        assertTrue(res.contains("upstream reset the connection"), res);
        assertEquals(3, upstream.requestCount(), "a reset is retried even for POST");
        upstream.closeBeforeResponse = false;
        assertStillServes();
    }

    @Test
    void upstreamClosingMidResponseClosesClientConnection() throws Exception {
        start();
        upstream.closeMidResponse = true;
        String res = raw(port, "GET / HTTP/1.1\r\nHost: service-b\r\n\r\n");
        assertTrue(res.startsWith("HTTP/1.1 200"), res);
        assertTrue(res.endsWith("partial"), "the connection closed after the partial body: " + res);
        upstream.closeMidResponse = false;
        assertStillServes();
    }

    @Test
    void clientGoneMidRequestReleasesUpstreamConnection() throws Exception {
        start();
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.getOutputStream().write(("POST / HTTP/1.1\r\nHost: service-b\r\nContent-Length: 1000000\r\n\r\n" + "y".repeat(100_000))
                    .getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            SidecarHarness.await(Duration.ofSeconds(3), () -> upstream.connections.get() == 1, "the upstream connection");
        }
        SidecarHarness.await(Duration.ofSeconds(3), () -> upstream.closedConnections.get() == 1, "the upstream connection to close");
        assertEquals(0, upstream.requestCount());
        assertStillServes();
    }

    @Test
    void clientGoneWhileWaitingForTheAnswerClosesTheUpstreamConnection() throws Exception {
        start();
        upstream.delayMillis = 3000;
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.getOutputStream().write("GET /slow HTTP/1.1\r\nHost: service-b\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            SidecarHarness.await(Duration.ofSeconds(3), () -> upstream.requestCount() == 1, "the request upstream");
        }
        SidecarHarness.await(Duration.ofMillis(2500), () -> upstream.closedConnections.get() == 1,
                "the upstream connection to close before the answer was due");
    }

    @Test
    void aClientThatHalfClosesAfterItsRequestIsTakenAsGone() throws Exception {
        start();
        upstream.delayMillis = 3000;
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(3000);
            s.getOutputStream().write("GET /slow HTTP/1.1\r\nHost: service-b\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            SidecarHarness.await(Duration.ofSeconds(3), () -> upstream.requestCount() == 1, "the request upstream");
            s.shutdownOutput(); // FIN: the documented reading is "gone", as nginx and Go's server read it
            assertEquals(-1, s.getInputStream().read(), "no answer, the connection closes");
        }
        SidecarHarness.await(Duration.ofMillis(2500), () -> upstream.closedConnections.get() == 1,
                "the upstream connection to close before the answer was due");
        upstream.delayMillis = 0;
        assertStillServes();
    }

    /** Sends a request that the sidecar may cut off early; returns what was answered before the close. */
    private String rawLenient(String request) throws Exception {
        return new String(SidecarHarness.rawLenient(port, request.getBytes(StandardCharsets.ISO_8859_1)), StandardCharsets.ISO_8859_1);
    }
}

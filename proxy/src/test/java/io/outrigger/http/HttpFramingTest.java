package io.outrigger.http;

import io.outrigger.Sidecar;
import io.outrigger.testing.RawHttp;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static io.outrigger.http.SidecarHarness.RESILIENCE;
import static io.outrigger.http.SidecarHarness.instance;
import static io.outrigger.http.SidecarHarness.raw;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Message framing through the proxy: pipelining, HEAD, chunked bodies, Expect: 100-continue, HTTP/1.0. */
class HttpFramingTest {
    @TempDir
    Path dir;

    private TestUpstream upstream;
    private Sidecar sidecar;
    private int port;

    @BeforeEach
    void start() throws Exception {
        upstream = new TestUpstream();
        sidecar = SidecarHarness.start(SidecarHarness.registry(dir, "\"service-b\": [" + instance(upstream.port()) + "]"), RESILIENCE);
        port = sidecar.boundPorts().get("outbound");
    }

    @AfterEach
    void stop() {
        sidecar.close();
        upstream.close();
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        String res = raw(port, "GET /1 HTTP/1.1\r\nHost: service-b\r\n\r\n"
                + "POST /2 HTTP/1.1\r\nHost: service-b\r\nContent-Length: 3\r\n\r\nabc"
                + "GET /3 HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n");
        assertEquals(3, res.split("HTTP/1.1 200").length - 1, res);
        assertEquals(3, upstream.requestCount());
        assertEquals("/1", upstream.requests.poll().uri());
        TestUpstream.Seen second = upstream.requests.poll();
        assertEquals("/2", second.uri());
        assertEquals(3, second.bodyBytes());
        assertEquals("/3", upstream.requests.poll().uri());
    }

    /**
     * A chunked body that waits in the pipeline queue behind an earlier request is relayed when its
     * turn comes, not only at the client's next read (which never comes: the client waits for the
     * answers). Ten rounds, so the upstream connections are pooled ones, which are leased at once.
     */
    @Test
    void pipelinedChunkedBodyIsSentWithoutWaitingForAnotherRead() throws Exception {
        for (int round = 0; round < 10; round++) {
            String res = raw(port, "GET /1 HTTP/1.1\r\nHost: service-b\r\n\r\n"
                    + "POST /2 HTTP/1.1\r\nHost: service-b\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                    + "3\r\nabc\r\n0\r\n\r\n");
            assertEquals(2, res.split("HTTP/1.1 200").length - 1, "round " + round + ": " + res);
            assertTrue(res.contains("\"bytes\": 3"), "round " + round + ": " + res);
        }
    }

    @Test
    void headResponseHasNoBodyAndKeepsConnectionUsable() throws Exception {
        String res = raw(port, "HEAD /h HTTP/1.1\r\nHost: service-b\r\n\r\nGET /g HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n");
        assertEquals(2, res.split("HTTP/1.1 200").length - 1, res);
        assertEquals(1, res.split("\"port\"").length - 1, "only the GET has a body: " + res);
    }

    @Test
    void chunkedRequestBodyStreamsUpstream() throws Exception {
        String res = raw(port, "POST /c HTTP/1.1\r\nHost: service-b\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                + "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        assertTrue(res.startsWith("HTTP/1.1 200"), res);
        assertTrue(res.contains("\"bytes\": 11"), res);
    }

    @Test
    void expectContinueIsAnsweredByTheSidecar() throws Exception {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(3000);
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            out.write("POST /e HTTP/1.1\r\nHost: service-b\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
                    .getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            byte[] head = new byte[25];
            int n = 0;
            while (n < head.length) {
                int read = in.read(head, n, head.length - n);
                assertTrue(read > 0, "closed after " + n + " bytes: " + new String(head, 0, n, StandardCharsets.ISO_8859_1));
                n += read;
            }
            assertTrue(new String(head, StandardCharsets.ISO_8859_1).startsWith("HTTP/1.1 100 Continue"));
            // The body, then a pipelined HEAD: each answer must keep its own framing.
            out.write("bodyHEAD /h HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            String rest = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
            assertTrue(rest.contains("HTTP/1.1 200") && rest.contains("\"bytes\": 4"), rest);
            assertEquals(2, rest.split("HTTP/1.1 200").length - 1, rest);
            assertFalse(upstream.requests.poll().headers().contains("expect"));
        }
    }

    /**
     * The sidecar's own answer to a request whose client still waits for {@code 100 Continue} closes the
     * connection: a client that then sends its next request instead of the body would otherwise have it
     * read as the 30000 bytes of body the connection still owes. Nothing reaches the upstream.
     */
    @Test
    void anAnswerBeforeTheContinueClosesTheConnection() throws Exception {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            out.write("POST /e HTTP/1.1\r\nHost: nosuch\r\nContent-Length: 30000\r\nExpect: 100-continue\r\n\r\n"
                    .getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            String head = readHead(in);
            assertTrue(head.startsWith("HTTP/1.1 404"), head);
            assertTrue(head.toLowerCase(java.util.Locale.ROOT).contains("connection: close"), head);
            int length = Integer.parseInt(head.replaceAll("(?is).*content-length: *([0-9]+).*", "$1"));
            assertEquals(length, in.readNBytes(length).length);
            assertEquals(-1, in.read(), "the sidecar closes instead of waiting for a body that may never come");
        }
        assertEquals(0, upstream.requestCount());
    }

    /** Reads a response head, byte by byte, up to its blank line. */
    private static String readHead(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            assertTrue(b >= 0, "closed before the end of the head: " + head);
            head.append((char) b);
        }
        return head.toString();
    }

    /**
     * An upstream that answers before the whole request arrived: the body still streams to it, and
     * the head tells the (keep-alive) client that the connection closes after this answer, since the
     * rest of its request is not read for a next one.
     */
    @Test
    void bodyKeepsStreamingAfterAnEarlyResponseHeadWhichAnnouncesTheClose() throws Exception {
        upstream.respondHeadEarly = true;
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(3000);
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            out.write("POST /echo HTTP/1.1\r\nHost: service-b\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
                    .getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            String head = readHead(in);
            assertTrue(head.startsWith("HTTP/1.1 200") && head.toLowerCase().contains("\r\nconnection: close\r\n"), head);
            out.write("6\r\n world\r\n0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            String rest = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
            assertTrue(rest.contains("{\"bytes\": 11}"), rest);
        }
    }

    @Test
    void http10ClientGetsAnAnswerAndClose() throws Exception {
        String res = raw(port, "GET /old HTTP/1.0\r\nHost: service-b\r\n\r\n");
        assertTrue(res.startsWith("HTTP/1.1 200"), res);
        assertTrue(res.toLowerCase().contains("connection: close"), res);
    }

    /**
     * An HTTP/1.0 client that asked for keep-alive is told the connection stays open by the sidecar's own
     * answers too (here a 404 and a 503), as by relayed ones: without {@code Connection: keep-alive} such a
     * client takes the connection for closing and waits for the close that never comes.
     */
    @Test
    void http10KeepAliveClientIsToldTheConnectionStaysOpenBySidecarAnswers() throws Exception {
        Sidecar noInstances = SidecarHarness.start(SidecarHarness.registry(java.nio.file.Files.createDirectory(dir.resolve("none")), "\"service-b\": []"),
                RESILIENCE);
        try (RawHttp client = new RawHttp(port); RawHttp noInstance = new RawHttp(noInstances.boundPorts().get("outbound"))) {
            for (String path : new String[] {"/a", "/b"}) {
                client.send("GET " + path + " HTTP/1.0\r\nHost: no-such-service\r\nConnection: keep-alive\r\n\r\n");
                RawHttp.Response res = client.read();
                assertEquals(404, res.status());
                assertEquals("keep-alive", res.headers().get("connection"), res.toString());
            }
            noInstance.send("GET / HTTP/1.0\r\nHost: service-b\r\nConnection: keep-alive\r\n\r\n");
            RawHttp.Response res = noInstance.read();
            assertEquals(503, res.status());
            assertEquals("keep-alive", res.headers().get("connection"), res.toString());
            client.send("GET /c HTTP/1.0\r\nHost: service-b\r\nConnection: keep-alive\r\n\r\n");
            assertEquals(200, client.read().status());
        } finally {
            noInstances.close();
        }
    }
}

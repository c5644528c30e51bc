package io.outrigger.jsonline;

import io.outrigger.Sidecar;
import io.outrigger.SidecarContext;
import io.outrigger.config.ConfigLoader;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.time.Ticker;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.outrigger.jsonline.JsonLineTesting.assertReply;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The jsonline listener of a running sidecar, over a real loopback socket. */
class JsonLineListenerTest {
    private Sidecar sidecar;
    private int port;

    @BeforeEach
    void start() throws Exception {
        SidecarContext context = new SidecarContext(ConfigLoader.parse(
                "name: sidecar-x\nlisteners:\n  jsonline: { port: 0 }\n", "test"), FileRegistry.embedded(), Ticker.system());
        sidecar = new Sidecar(context);
        sidecar.start();
        port = sidecar.boundPorts().get("jsonline");
    }

    @AfterEach
    void stop() {
        sidecar.close();
    }

    private Socket connect() throws Exception {
        Socket s = new Socket("127.0.0.1", port);
        s.setSoTimeout(5_000);
        return s;
    }

    @Test
    void answersLinesWithTheConfiguredSidecarName() throws Exception {
        try (Socket s = connect()) {
            OutputStream out = s.getOutputStream();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            out.write(("{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":1},\"proxy\":true}\n"
                    + "garbage\n"
                    + "{\"src\":\"c\",\"dest\":\"r\",\"body\":{\"type\":\"discover\",\"msg_id\":2,\"service\":\"service-b\"}}\r\n").getBytes(StandardCharsets.UTF_8));
            assertReply("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"proxied\",\"in_reply_to\":1,"
                    + "\"proxied_by\":\"sidecar-x\",\"trace_id\":\"<uuid>\"}}", in.readLine());
            assertEquals("{\"src\":\"r\",\"dest\":\"c\",\"body\":{\"type\":\"discovered\",\"in_reply_to\":2,\"service\":\"service-b\","
                    + "\"instances\":[{\"host\":\"10.0.1.1\",\"port\":8080},{\"host\":\"10.0.1.2\",\"port\":8080}]}}", in.readLine());
        }
    }

    @Test
    void halfCloseStillGetsTheRepliesInFlight() throws Exception {
        try (Socket s = connect()) {
            s.getOutputStream().write(("{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":4,"
                    + "\"retries\":3,\"base_ms\":50,\"force_failures\":2}}").getBytes(StandardCharsets.UTF_8));
            long start = System.nanoTime();
            s.shutdownOutput();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            assertReply("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"proxied\",\"in_reply_to\":4,"
                    + "\"proxied_by\":\"sidecar-x\",\"trace_id\":\"<uuid>\",\"attempts\":3,\"backoff_ms\":[50,100]}}", in.readLine());
            assertTrue(System.nanoTime() - start >= 150_000_000L, "the reply came after the real 150 ms of backoff");
            assertNull(in.readLine(), "then the sidecar closes the connection");
        }
    }

    @Test
    void connectionsShareTheSidecarsBreakers() throws Exception {
        try (Socket a = connect(); Socket b = connect()) {
            a.getOutputStream().write("{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":1,\"force_failures\":5}}\n"
                    .getBytes(StandardCharsets.UTF_8));
            assertEquals("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"circuit_breaker_open\",\"in_reply_to\":1,\"service\":\"service-b\",\"failures\":5}}",
                    new BufferedReader(new InputStreamReader(a.getInputStream(), StandardCharsets.UTF_8)).readLine());
            b.getOutputStream().write("{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":2}}\n".getBytes(StandardCharsets.UTF_8));
            assertEquals("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"error\",\"in_reply_to\":2,\"error\":\"Circuit breaker OPEN\",\"service\":\"service-b\"}}",
                    new BufferedReader(new InputStreamReader(b.getInputStream(), StandardCharsets.UTF_8)).readLine());
        }
    }

    /**
     * More replies than the socket buffers hold are still queued in the sidecar when it reads the
     * client's FIN: the connection closes only once they have all been written.
     */
    @Test
    void halfCloseAfterABurstGetsEveryReply() throws Exception {
        int lines = 5_000;
        StringBuilder burst = new StringBuilder();
        for (int i = 1; i <= lines; i++) {
            burst.append("{\"src\":\"c\",\"dest\":\"n\",\"body\":{\"type\":\"discover\",\"msg_id\":").append(i)
                    .append(",\"service\":\"service-b\"}}\n");
        }
        try (Socket s = connect()) {
            CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
                try {
                    s.getOutputStream().write(burst.toString().getBytes(StandardCharsets.UTF_8));
                    s.shutdownOutput();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            Set<String> answered = new HashSet<>();
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                assertTrue(line.startsWith("{\"src\":\"n\",\"dest\":\"c\",\"body\":{\"type\":\"discovered\",\"in_reply_to\":"), line);
                answered.add(line.substring(0, line.indexOf(",\"service\"")));
            }
            sent.get(5, TimeUnit.SECONDS);
            assertEquals(lines, answered.size(), "replies before the sidecar closed the connection");
        }
    }
}

package io.outrigger.registry.fake;

import io.outrigger.registry.testing.RawHttp;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.outrigger.registry.testing.Http.await;
import static io.outrigger.registry.testing.Http.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A fake service's graceful shutdown ({@link FakeService#close()}, what SIGTERM runs) on real loopback sockets:
 * a request in flight is answered whole with {@code Connection: close}, a new connection is refused, an idle
 * keep-alive connection closes at once, and a request that never arrives whole does not hold the shutdown past
 * its deadline.
 */
class FakeServiceDrainTest {
    private final List<Socket> sockets = new ArrayList<>();
    private final List<FakeService> services = new ArrayList<>();

    @AfterEach
    void stop() throws IOException {
        for (Socket s : sockets) {
            s.close();
        }
        for (FakeService f : services) {
            f.close(Duration.ZERO); // again after a test's own close: harmless
        }
    }

    private FakeService start(long latencyMillis) throws InterruptedException {
        FakeService f = FakeService.start(FakeService.Settings.local("service-b").withInstanceId("b-1"),
                new Behaviour(0, latencyMillis));
        services.add(f);
        return f;
    }

    private Socket connect(int port) throws IOException {
        Socket s = new Socket();
        sockets.add(s);
        s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
        s.setSoTimeout(5000);
        return s;
    }

    private static void send(Socket s, String request) throws IOException {
        s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
    }

    /** Reads to the end of the stream: -1 once the server closed (a reset also counts as closed). */
    private static void assertClosedByServer(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        try {
            assertEquals(-1, in.read(), "nothing more, then the end of the stream");
        } catch (SocketException reset) {
            // closed with unread data: also closed
        }
    }

    /** How long close() took, and the requests it reported cut. */
    private record Closed(long millis, int cut) {
    }

    private static CompletableFuture<Closed> closeInBackground(FakeService svc, Duration deadline) {
        return CompletableFuture.supplyAsync(() -> {
            long t0 = System.nanoTime();
            int cut = svc.close(deadline);
            return new Closed(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0), cut);
        }, r -> new Thread(r, "closer").start());
    }

    @Test
    void aRequestInFlightIsAnsweredWholeWithConnectionCloseAndNewConnectionsAreRefused() throws Exception {
        FakeService svc = start(1500);
        int port = svc.port();
        Socket s = connect(port);
        send(s, "GET /in-flight HTTP/1.1\r\nHost: b\r\n\r\n");
        await("the request received", 5000, () -> svc.requestsInFlight() == 1);

        CompletableFuture<Closed> closed = closeInBackground(svc, FakeService.DRAIN_DEADLINE);
        await("new connections refused", 5000, () -> {
            try (Socket probe = new Socket()) {
                probe.connect(new InetSocketAddress("127.0.0.1", port), 1000);
                return false; // accepted before the listener closed; the drain closes it
            } catch (ConnectException refused) {
                return true;
            } catch (IOException e) {
                return false;
            }
        });
        assertTrue(svc.requestsInFlight() == 1 && !closed.isDone(),
                "the listener closed while the request still waits out its latency");

        RawHttp.Response res = RawHttp.read(s.getInputStream());
        assertEquals(200, res.status(), res.body());
        assertEquals("close", res.header("connection"), "a keep-alive client is told to move on");
        assertEquals("/in-flight", json(res.body()).get("path").asText(), "the whole answer");
        assertClosedByServer(s);
        Closed c = closed.get(10, TimeUnit.SECONDS);
        assertTrue(c.millis() < FakeService.DRAIN_DEADLINE.toMillis(), "close() returned once drained, not at the deadline: " + c);
        assertEquals(0, c.cut(), "nothing cut");
    }

    @Test
    void anIdleKeepAliveConnectionIsClosedAtOnce() throws Exception {
        FakeService svc = start(0);
        Socket s = connect(svc.port());
        send(s, "GET /first HTTP/1.1\r\nHost: b\r\n\r\n");
        RawHttp.Response res = RawHttp.read(s.getInputStream());
        assertEquals(200, res.status());
        assertNull(res.header("connection"), "kept alive while serving");

        CompletableFuture<Closed> closed = closeInBackground(svc, FakeService.DRAIN_DEADLINE);
        s.setSoTimeout(2000); // far below the deadline: promptly, not when the deadline cuts it
        assertClosedByServer(s);
        Closed c = closed.get(10, TimeUnit.SECONDS);
        assertTrue(c.millis() < 2000, "close() did not wait for an idle connection: " + c);
        assertEquals(0, c.cut(), "nothing cut");
    }

    @Test
    void aRequestThatNeverArrivesWholeDoesNotHoldCloseBeyondTheDeadline() throws Exception {
        FakeService svc = start(0);
        Socket s = connect(svc.port());
        send(s, "POST /never-ends HTTP/1.1\r\nHost: b\r\nContent-Length: 100\r\n\r\nonly part of it");
        await("the request's head received", 5000, () -> svc.requestsInFlight() == 1);

        Duration deadline = Duration.ofMillis(1000);
        Closed c = closeInBackground(svc, deadline).get(10, TimeUnit.SECONDS);
        assertTrue(c.millis() >= deadline.toMillis() - 50, "it waited for the request until the deadline: " + c);
        assertTrue(c.millis() < deadline.toMillis() + 3000, "and then closed it and stopped: " + c);
        assertEquals(1, c.cut(), "the request cut at the deadline is reported");
        assertClosedByServer(s);
        assertThrows(ConnectException.class, () -> connect(svc.port()));
    }
}

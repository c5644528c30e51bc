package io.outrigger.lifecycle;

import io.netty.util.concurrent.EventExecutor;
import io.outrigger.Sidecar;
import io.outrigger.SidecarContext;
import io.outrigger.config.ConfigLoader;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.Endpoint;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.metrics.ProxyMetrics;
import io.outrigger.testing.RawHttp;
import io.outrigger.time.Ticker;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The drain of an in-process sidecar through real sockets: readiness, which listeners stop
 * accepting when, what happens to inbound keep-alive connections, tcp relays and outbound calls,
 * and that closing closes every accepted connection. The steps are mostly driven by hand
 * ({@link Sidecar#beginDrain()}, {@link Sidecar#stopIntake()}, {@link Sidecar#close()}), so
 * nothing depends on timing; one test runs the timed {@link Drain} with a short deadline.
 */
class DrainTest {
    @TempDir
    Path dir;

    private HeldApp app;
    private Sidecar sidecar;

    @BeforeEach
    void start() throws Exception {
        app = new HeldApp();
        Path registry = dir.resolve("registry.json");
        Files.writeString(registry, "{\"services\": {\"service-b\": [{\"host\": \"127.0.0.1\", \"port\": " + app.port() + "}]}}");
        SidecarConfig cfg = ConfigLoader.parse("name: drain-test\nservice: service-a\nregistry: file:" + registry + "\n"
                + "bind_address: 127.0.0.1\nio_threads: 2\n"
                + "health: { interval_ms: 0 }\n"
                + "listeners:\n"
                + "  admin: { port: 0 }\n"
                + "  outbound: { port: 0 }\n"
                + "  inbound: { port: 0, app: 127.0.0.1:" + app.port() + " }\n"
                + "  jsonline: { port: 0 }\n"
                + "  tcp: [ { port: 0, service: service-b } ]\n", "test");
        config = cfg;
        registryFile = registry;
        sidecar = new Sidecar(new SidecarContext(cfg, FileRegistry.load(registry), Ticker.system()));
        sidecar.start();
        await(() -> sidecar.state() == Sidecar.State.READY, "ready");
    }

    private SidecarConfig config;
    private Path registryFile;

    @AfterEach
    void stop() {
        app.hold = false;
        app.releaseHeld();
        sidecar.close();
        app.close();
    }

    private int port(String listener) {
        return sidecar.boundPorts().get(listener);
    }

    @Test
    void readyTurns503AtOnceWhileEveryListenerStillAccepts() throws Exception {
        try (RawHttp admin = new RawHttp(port("admin"))) {
            assertEquals(200, admin.get("admin", "/ready").status());
            Drain drain = new Drain(sidecar, 60_000, 60_000, sidecar.group().next());

            assertTrue(drain.begin());
            RawHttp.Response ready = admin.get("admin", "/ready");

            assertEquals(503, ready.status());
            assertTrue(ready.body().contains("draining"), ready.body());
            assertFalse(drain.begin(), "a second begin changes nothing");
        }
        try (RawHttp inbound = new RawHttp(port("inbound")); RawHttp outbound = new RawHttp(port("outbound"))) {
            RawHttp.Response in = inbound.get("service-a", "/in");
            RawHttp.Response out = outbound.get("service-b", "/out");
            assertEquals(200, in.status());
            assertFalse(in.closes(), "during the grace inbound connections stay keep-alive");
            assertEquals(200, out.status());
        }
    }

    @Test
    void requestInFlightIsAnsweredWithConnectionCloseAfterIntakeStops() throws Exception {
        try (RawHttp inbound = new RawHttp(port("inbound"))) {
            assertEquals(200, inbound.get("service-a", "/first").status());
            app.hold = true;
            inbound.sendGet("service-a", "/slow");
            await(() -> app.received.get() == 2, "the app got the request");
            int inboundPort = port("inbound");

            sidecar.beginDrain();
            stopIntake();

            assertThrows(ConnectException.class, () -> new Socket("127.0.0.1", inboundPort).close(),
                    "new inbound connections are refused");
            app.releaseHeld();
            RawHttp.Response res = inbound.read();
            assertEquals(200, res.status());
            assertEquals("{\"path\": \"/slow\"}", res.body());
            assertTrue(res.closes(), "the last response says Connection: close: " + res.headers());
            assertTrue(inbound.closedByServer(), "then the connection closes");
        }
    }

    @Test
    void idleKeepAliveConnectionClosesWhenIntakeStops() throws Exception {
        try (RawHttp inbound = new RawHttp(port("inbound"))) {
            RawHttp.Response res = inbound.get("service-a", "/once");
            assertEquals(200, res.status());
            assertFalse(res.closes());

            sidecar.stopIntake();

            assertTrue(inbound.closedByServer());
        }
    }

    /**
     * A client sending back to back has its next request on the way when the drain reaches its idle
     * connection: closing at once lost it (a SIGTERM test under load caught one in about ten runs).
     * The connection waits a moment for it, answers it with Connection: close, then closes.
     */
    @Test
    void aRequestSentRightAfterTheDrainReachedAnIdleConnectionIsAnswered() throws Exception {
        try (RawHttp inbound = new RawHttp(port("inbound"))) {
            assertEquals(200, inbound.get("service-a", "/first").status());

            stopIntake(); // the drain event has reached the connection, between two requests

            assertTheNextIsAnsweredAsTheLast(inbound);
        }
    }

    /**
     * The head of an answer went out keep-alive before the drain reached its connection, so it cannot say
     * Connection: close, and its client may send the next request the moment the body ends. Closing right
     * after that body lost the request (reset); the connection now closes as an idle one, after the quiet time.
     */
    @Test
    void aRequestSentRightAfterAKeepAliveAnswerThatEndedDuringTheDrainIsAnswered() throws Exception {
        try (RawHttp inbound = new RawHttp(port("inbound"))) {
            app.holdBody = true;
            inbound.sendGet("service-a", "/streaming");
            RawHttp.Response head = inbound.readHead(); // its body is held by the app
            assertEquals(200, head.status());
            assertFalse(head.closes(), head.headers().toString());
            app.holdBody = false;

            sidecar.beginDrain();
            stopIntake(); // the drain event has reached the connection, mid-response
            app.releaseHeld();
            assertEquals("{\"path\": \"/streaming\"}", inbound.readBody(Integer.parseInt(head.headers().get("content-length"))));

            assertTheNextIsAnsweredAsTheLast(inbound);
        }
    }

    /** A request on {@code inbound} is answered, with Connection: close, and the sidecar then closes the connection. */
    private static void assertTheNextIsAnsweredAsTheLast(RawHttp inbound) throws Exception {
        RawHttp.Response res = inbound.get("service-a", "/next");
        assertEquals(200, res.status());
        assertEquals("{\"path\": \"/next\"}", res.body());
        assertTrue(res.closes(), "answered as the last one: " + res.headers());
        assertTrue(inbound.closedByServer());
    }

    /**
     * An answer that comes before the client finished its upload (here a 502: the app is down and the body too
     * big to keep) is followed by a lingering close, so the client can send on and then read it. During the
     * drain the connection closed right after that answer instead, and the rest of the upload met a reset.
     */
    @Test
    void anEarlyAnswerDuringTheDrainLingersForTheRestOfTheUpload() throws Exception {
        try (Socket client = new Socket("127.0.0.1", port("inbound"))) {
            client.setSoTimeout(5000);
            await(() -> sidecar.openConnections("inbound") == 1, "the sidecar accepted the connection");
            stopIntake(); // the drain event has reached the connection before its first request
            app.close(); // connections to the app are refused now

            int size = 8 << 20;
            OutputStream out = client.getOutputStream();
            out.write(("POST /upload HTTP/1.1\r\nHost: service-a\r\nContent-Length: " + size + "\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
            byte[] chunk = new byte[64 * 1024];
            for (int sent = 0; sent < size; sent += chunk.length) {
                out.write(chunk); // a reset here: the connection was closed, not lingering
            }
            String answer = new String(client.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.ISO_8859_1);
            assertTrue(answer.startsWith("HTTP/1.1 502"), answer);
            assertTrue(answer.toLowerCase(java.util.Locale.ROOT).contains("\r\nconnection: close\r\n"), answer);
        }
    }

    @Test
    void connectionAcceptedBeforeIntakeStopsGetsItsFirstRequestAnswered() throws Exception {
        try (RawHttp inbound = new RawHttp(port("inbound"))) {
            await(() -> sidecar.openConnections("inbound") == 1, "the sidecar accepted the connection");

            stopIntake();
            RawHttp.Response res = inbound.get("service-a", "/late");

            assertEquals(200, res.status());
            assertTrue(res.closes(), res.headers().toString());
            assertTrue(inbound.closedByServer());
        }
    }

    @Test
    void outboundKeepsServingAfterIntakeStops() throws Exception {
        try (RawHttp before = new RawHttp(port("outbound"))) {
            assertEquals(200, before.get("service-b", "/a").status());
            sidecar.beginDrain();
            stopIntake();

            RawHttp.Response again = before.get("service-b", "/b");
            try (RawHttp fresh = new RawHttp(port("outbound"))) {
                RawHttp.Response res = fresh.get("service-b", "/c");
                assertEquals(200, res.status());
                assertFalse(res.closes(), "outbound connections stay keep-alive until the deadline");
            }
            assertEquals(200, again.status());
            assertFalse(again.closes());
        }
    }

    @Test
    void tcpRelayStopsAcceptingButLiveRelaysGoOnUntilClose() throws Exception {
        int tcpPort = port("tcp:service-b");
        try (RawHttp relay = new RawHttp(tcpPort); RawHttp jsonline = new RawHttp(port("jsonline"))) {
            assertEquals(200, relay.get("service-b", "/via-tcp").status());
            await(() -> sidecar.openConnections("jsonline") == 1, "the jsonline connection accepted");

            stopIntake();

            assertThrows(ConnectException.class, () -> new Socket("127.0.0.1", tcpPort).close());
            assertThrows(ConnectException.class, () -> new Socket("127.0.0.1", port("jsonline")).close());
            assertEquals(200, relay.get("service-b", "/still").status(), "the live relay goes on");

            sidecar.close();

            assertTrue(relay.closedByServer(), "close() ends the relay");
            assertTrue(jsonline.closedByServer(), "close() ends the jsonline session");
        }
    }

    @Test
    void closeClosesEveryAcceptedConnection() throws Exception {
        try (Socket admin = new Socket("127.0.0.1", port("admin")); Socket outbound = new Socket("127.0.0.1", port("outbound"));
             Socket inbound = new Socket("127.0.0.1", port("inbound"))) {
            await(() -> sidecar.openConnections("admin") + sidecar.openConnections("outbound")
                    + sidecar.openConnections("inbound") == 3, "three connections accepted");

            sidecar.close();

            for (Socket s : new Socket[] {admin, outbound, inbound}) {
                s.setSoTimeout(5000);
                assertEquals(-1, readOrEof(s.getInputStream()), "closed by the sidecar");
            }
        }
    }

    @Test
    void timedDrainStopsIntakeAfterTheGraceAndClosesAtTheDeadline() throws Exception {
        long drainMillis = 1_500;
        long graceMillis = 150;
        Drain drain = new Drain(sidecar, drainMillis, graceMillis, sidecar.group().next());
        int inboundPort = port("inbound");
        int outboundPort = port("outbound");
        long t0 = System.nanoTime();

        drain.begin();
        await(() -> refuses(inboundPort), "inbound refusing connections");
        long intakeStoppedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        try (RawHttp outbound = new RawHttp(outboundPort)) {
            assertEquals(200, outbound.get("service-b", "/during-drain").status(), "outbound serves after the grace");
        }
        drain.awaitDeadlineAndClose();
        long closedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);

        assertTrue(intakeStoppedMillis >= graceMillis, "intake stopped after " + intakeStoppedMillis + " ms");
        assertTrue(closedMillis >= drainMillis, "closed after " + closedMillis + " ms");
        assertTrue(refuses(outboundPort), "outbound closed at the deadline");
        assertEquals(0, drain.remainingMillis());
    }

    @Test
    void drainBegunWhileTheListenersBindStopsTheIntakeListenersAsTheyBind() throws Exception {
        try (Sidecar starting = new Sidecar(new SidecarContext(config, FileRegistry.load(registryFile), Ticker.system()))) {
            starting.beginDrain();
            starting.stopIntake();

            starting.start();

            await(() -> refuses(starting.boundPorts().get("inbound")) && refuses(starting.boundPorts().get("jsonline"))
                    && refuses(starting.boundPorts().get("tcp:service-b")), "intake listeners closed");
            try (RawHttp admin = new RawHttp(starting.boundPorts().get("admin"))) {
                RawHttp.Response ready = admin.get("admin", "/ready");
                assertEquals(503, ready.status(), "a drain begun while starting never turns ready");
            }
            assertFalse(refuses(starting.boundPorts().get("outbound")));
        }
    }

    /**
     * A request still in flight when the drain deadline closes its connection was cut by the sidecar, not
     * dropped by its client: it is reported (access log and metrics share the status) as 503, and a client
     * that hangs up itself still as 499.
     */
    @Test
    void aRequestCutAtTheDrainDeadlineIsReportedAs503NotAsAClientThatLeft() throws Exception {
        Queue<Integer> statuses = new ConcurrentLinkedQueue<>();
        ProxyMetrics recording = new ProxyMetrics() {
            @Override
            public void onExchange(String edge, String service, Endpoint instance, int status, int attempts, long durationNanos) {
                statuses.add(status);
            }
        };
        try (Sidecar s = new Sidecar(new SidecarContext(config, FileRegistry.load(registryFile), Ticker.system(), recording))) {
            s.start();
            await(() -> s.state() == Sidecar.State.READY, "ready");
            app.hold = true;
            int outboundPort = s.boundPorts().get("outbound");
            try (RawHttp leaving = new RawHttp(outboundPort)) {
                leaving.sendGet("service-b", "/left");
                await(() -> app.received.get() == 1, "the app got the first request");
            }
            await(() -> statuses.size() == 1, "the exchange whose client left to end");
            assertEquals(499, statuses.poll());

            try (RawHttp cut = new RawHttp(outboundPort)) {
                cut.sendGet("service-b", "/cut");
                await(() -> app.received.get() == 2, "the app got the second request");
                Drain drain = new Drain(s, 200, 50, s.group().next());
                drain.begin();
                drain.awaitDeadlineAndClose();
                assertTrue(cut.closedByServer(), "no answer: the deadline closed the connection");
            }
            await(() -> statuses.size() == 1, "the cut exchange to end");
            assertEquals(503, statuses.poll());
        }
    }

    private static boolean refuses(int port) {
        try (Socket s = new Socket("127.0.0.1", port)) {
            return false;
        } catch (ConnectException e) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static int readOrEof(InputStream in) throws IOException {
        try {
            return in.read();
        } catch (java.net.SocketException e) {
            return -1; // reset: closed as well
        }
    }

    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(5); // polling interval of the wait, not a synchronisation
        }
    }

    /**
     * Stops intake and waits until every event loop has run what was queued on it by then, the
     * {@link DrainEvent}s included: the drain reaches connections asynchronously, and a test that
     * goes on before it arrives would race it.
     */
    private void stopIntake() throws InterruptedException {
        assertTrue(sidecar.stopIntake().await(5, TimeUnit.SECONDS), "the intake listeners closed");
        for (EventExecutor loop : sidecar.group()) {
            assertTrue(loop.submit(() -> { }).await(5, TimeUnit.SECONDS), "event loop turn");
        }
    }
}

package io.outrigger.discovery;

import com.sun.net.httpserver.HttpServer;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.resolver.DefaultAddressResolverGroup;
import io.outrigger.listener.Transports;
import io.outrigger.testing.Await;
import io.outrigger.testing.ExhaustedAllocator;
import io.outrigger.testing.RecordingAllocator;
import io.outrigger.time.Ticker;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Active checks against a real HTTP server on loopback: a check the sidecar's own memory shortage fails is skipped. */
class ActiveHealthCheckerTest {
    @TempDir
    Path dir;

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private HttpServer server;


    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.stop(0);
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    private Endpoint serve(int status) throws Exception {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/health", exchange -> {
            exchange.sendResponseHeaders(status, -1);
            exchange.close();
        });
        server.start();
        return new Endpoint("127.0.0.1", server.getAddress().getPort());
    }

    /** One round of checks of {@code endpoint}, with {@code allocator} (null: the default), awaited to its end. */
    private HealthTracker checkOnce(Endpoint endpoint, ByteBufAllocator allocator) throws Exception {
        return checkOnce(endpoint, allocator, new HealthTracker());
    }

    private HealthTracker checkOnce(Endpoint endpoint, ByteBufAllocator allocator, HealthTracker health) throws Exception {
        Path file = Files.writeString(dir.resolve("registry.json"),
                "{\"services\": {\"svc\": [{\"host\": \"127.0.0.1\", \"port\": " + endpoint.port() + "}]}}");
        health.noteRouted("svc");
        ActiveHealthChecker checker = new ActiveHealthChecker(FileRegistry.load(file), health, group.next(), Transports.NIO,
                "/health", 60_000, 1_000, allocator);
        group.next().submit(checker::checkAll).sync();
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (checker.checking()) {
            assertTrue(System.nanoTime() < deadline, "the check did not end within 5 s");
            Thread.onSpinWait();
        }
        group.next().submit(() -> { }).sync(); // the check ends (and reports) in one task of the loop: after it, all is told
        return health;
    }

    @Test
    void aFailingInstanceIsReported() throws Exception {
        Endpoint endpoint = serve(503);
        HealthTracker health = checkOnce(endpoint, null);
        assertTrue(health.isTracked("svc", endpoint), "the failed check reached the tracker");
    }

    @Test
    void aCheckTheSidecarHasNoMemoryForIsNoVerdict() throws Exception {
        Endpoint endpoint = serve(200);
        HealthTracker health = checkOnce(endpoint, ExhaustedAllocator.ALL);
        assertFalse(health.isTracked("svc", endpoint), "skipped, not failed: " + health.health("svc", endpoint));
    }

    /**
     * An answer the HTTP codec cannot read fails the check, as the proxy answers that instance's traffic 502 ("upstream
     * sent a malformed response"). A status line of 200 followed by a header over the codec's limit passed (the codec
     * keeps the status it read before the head broke), and each such pass ended a passive ejection early; bytes
     * that are not HTTP failed as "status 999", Netty's stand-in.
     */
    @ParameterizedTest
    @ValueSource(strings = {"HTTP/1.1 200 OK\r\nX-Big: %s\r\n\r\n", "hello there\r\n\r\n"})
    void anAnswerThatIsNotReadableHttpFailsTheCheck(String answer) throws Exception {
        byte[] bytes = String.format(answer, "a".repeat(20_000)).getBytes(StandardCharsets.US_ASCII);
        try (ServerSocket raw = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread answering = new Thread(() -> {
                try (Socket s = raw.accept()) {
                    s.getInputStream().read(new byte[4096]);
                    s.getOutputStream().write(bytes);
                    s.getOutputStream().flush();
                    s.shutdownOutput();
                    s.getInputStream().readAllBytes(); // until the checker closes
                } catch (IOException e) {
                    // the checker closed first: nothing more to answer
                }
            });
            answering.setDaemon(true);
            answering.start();
            Endpoint endpoint = new Endpoint("127.0.0.1", raw.getLocalPort());
            HealthTracker health = checkOnce(endpoint, null, new HealthTracker(null, Ticker.system(), Clock.systemUTC(),
                    new HealthTracker.Settings(5, 30_000, 300_000, 50, 1, 1)));

            HealthTracker.Health verdict = health.health("svc", endpoint);
            assertFalse(verdict.healthy(), "a malformed answer passed the check: " + verdict);
            assertTrue(verdict.reason().startsWith("failing checks: 1 consecutive (a malformed answer ("), verdict.reason());
        }
    }

    /**
     * An instance registered by host name is checked through the sidecar's asynchronous resolver, as proxied traffic
     * is: Bootstrap's default resolver looked the name up with the JDK's blocking call on the event loop, which
     * carries proxied exchanges too (a slow name server stalled them every interval). {@code localhost} comes from
     * the hosts file, so no name server is asked.
     */
    @Test
    void anInstanceNamedByHostIsLookedUpWithoutBlockingTheLoop() throws Exception {
        Endpoint served = serve(200);
        Path file = Files.writeString(dir.resolve("registry.json"),
                "{\"services\": {\"svc\": [{\"host\": \"localhost\", \"port\": " + served.port() + "}]}}");
        HealthTracker health = new HealthTracker(null, Ticker.system(), Clock.systemUTC(), new HealthTracker.Settings(5, 30_000, 300_000, 50, 1, 1));
        health.noteRouted("svc");
        ActiveHealthChecker checker = new ActiveHealthChecker(FileRegistry.load(file), health, group.next(), Transports.NIO,
                "/health", 60_000, 2_000);

        assertFalse(checker.resolver() instanceof DefaultAddressResolverGroup, "the JDK's blocking lookup, on the event loop");
        group.next().submit(checker::checkAll).sync();
        Endpoint byName = new Endpoint("localhost", served.port());
        Await.until("the check of localhost", Duration.ofSeconds(5), () -> health.isTracked("svc", byName) && !checker.checking());
        assertTrue(health.isHealthy("svc", byName), health.health("svc", byName).toString());
    }

    /**
     * A check whose connection completes as its io_uring loop shuts down (the loop drains its ring then, running the
     * connect's listeners) writes nothing, since no send would follow, and gives no verdict. Every buffer the check's
     * connection allocated is checked released once the loop is gone, without waiting for a GC.
     */
    @Test
    void aCheckConnectedAsTheLoopShutsDownWritesNothing() throws Exception {
        assumeTrue(Transports.IO_URING.isAvailable(), "io_uring is not available here");
        Endpoint endpoint = serve(200);
        Path file = Files.writeString(dir.resolve("registry.json"),
                "{\"services\": {\"svc\": [{\"host\": \"127.0.0.1\", \"port\": " + endpoint.port() + "}]}}");
        HealthTracker health = new HealthTracker();
        health.noteRouted("svc");
        RecordingAllocator recording = new RecordingAllocator();
        EventLoopGroup uring = Transports.IO_URING.newGroup(1, "health-check-test");
        ActiveHealthChecker checker = new ActiveHealthChecker(FileRegistry.load(file), health, uring.next(), Transports.IO_URING,
                "/health", 60_000, 1_000, recording);
        uring.next().execute(() -> {
            checker.checkAll();
            uring.shutdownGracefully(0, 0, TimeUnit.SECONDS); // the connect completes as the loop drains its ring
        });
        assertTrue(uring.terminationFuture().await(10, TimeUnit.SECONDS), "the loop ended");

        assertEquals(List.of(), recording.unreleased(), "buffers of the check never released");
        assertFalse(health.isTracked("svc", endpoint), "no verdict: " + health.health("svc", endpoint));
    }
}

package io.outrigger.discovery;

import com.sun.net.httpserver.HttpServer;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.outrigger.listener.Transports;
import io.outrigger.testing.ExhaustedAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
        Path file = Files.writeString(dir.resolve("registry.json"),
                "{\"services\": {\"svc\": [{\"host\": \"127.0.0.1\", \"port\": " + endpoint.port() + "}]}}");
        HealthTracker health = new HealthTracker();
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
}

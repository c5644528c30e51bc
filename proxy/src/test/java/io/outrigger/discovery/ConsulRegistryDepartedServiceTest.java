package io.outrigger.discovery;

import com.sun.net.httpserver.HttpServer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.outrigger.listener.Transports;
import io.outrigger.testing.Await;
import io.outrigger.time.Ticker;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static io.outrigger.discovery.ConsulAnswers.answer;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A service that leaves the catalog is no longer watched: the health bookkeeping that follows every registry change
 * (draining its instances) and the active checks of a service traffic once went to read what the registry lists
 * without asking it to follow that service again. They asked, and the watch came back and polled for good.
 */
class ConsulRegistryDepartedServiceTest {

    @Test
    void aServiceGoneFromTheCatalogIsNotWatchedAgain() throws Exception {
        AtomicBoolean gone = new AtomicBoolean();
        AtomicInteger catalogPolls = new AtomicInteger();
        AtomicInteger servicePolls = new AtomicInteger();
        HttpServer consul = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        ExecutorService handlers = Executors.newCachedThreadPool();
        consul.setExecutor(handlers);
        consul.createContext("/v1/catalog/services", ex -> {
            catalogPolls.incrementAndGet();
            answer(ex, gone.get() ? 11 : 10, gone.get() ? "{}" : "{\"service-b\": []}");
        });
        consul.createContext("/v1/health/service/service-b", ex -> {
            servicePolls.incrementAndGet();
            answer(ex, gone.get() ? 21 : 20, gone.get() ? "[]"
                    : "[{\"Service\": {\"ID\": \"b-1\", \"Service\": \"service-b\", \"Address\": \"127.0.0.1\", \"Port\": 9001}}]");
        });
        consul.start();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        ConsulRegistry registry = new ConsulRegistry("127.0.0.1", consul.getAddress().getPort(), new ConsulRegistry.Settings(200, 100, 200));
        HealthTracker health = new HealthTracker(registry, Ticker.system(), Clock.systemUTC(), HealthTracker.Settings.DEFAULT);
        registry.onChange(health::syncWithRegistry);
        // Never started: its rounds are run by hand, and its checks of 127.0.0.1:9001 (nothing there) just fail.
        ActiveHealthChecker checker = new ActiveHealthChecker(registry, health, group.next(), Transports.NIO, "/health", 1_000, 200);
        try {
            registry.ready().get(5, TimeUnit.SECONDS);
            Endpoint b1 = new Endpoint("127.0.0.1", 9001);
            health.noteRouted("service-b");
            health.onFailure("service-b", b1, "status 503"); // the instance has health state
            gone.set(true);
            Await.until("service-b gone from the catalog", Duration.ofSeconds(5), () -> registry.services().isEmpty());
            Await.until("service-b's instances forgotten", Duration.ofSeconds(5), () -> registry.listed("service-b").isEmpty()
                    && registry.services().isEmpty());
            group.next().submit(checker::checkAll).sync();
            int before = servicePolls.get();
            int catalogBefore = catalogPolls.get();
            // The catalog watch re-asks every 100 ms or so; a watch of service-b would as well.
            Await.until("ten more catalog polls", Duration.ofSeconds(10), () -> catalogPolls.get() >= catalogBefore + 10);
            group.next().submit(checker::checkAll).sync();
            Await.until("ten more catalog polls", Duration.ofSeconds(10), () -> catalogPolls.get() >= catalogBefore + 20);
            int after = servicePolls.get();
            assertTrue(after - before <= 1, "service-b polled " + (after - before) + " times after it left the catalog");
        } finally {
            checker.close();
            registry.close();
            consul.stop(0);
            handlers.shutdownNow();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }
}

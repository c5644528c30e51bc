package io.outrigger.discovery;

import com.sun.net.httpserver.HttpServer;
import io.outrigger.testing.Await;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static io.outrigger.discovery.ConsulAnswers.answer;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link ConsulRegistry#stale()} ({@code registry_stale} at {@code /clusters}, {@code outrigger_registry_stale}) stays
 * true while one service's watch fails and the others answer: it read whether the last query of any watch failed, so
 * each answer about another service turned it false while the failing service's instances were still the last known.
 */
class ConsulRegistryStaleTest {

    @Test
    void oneFailingWatchKeepsTheRegistryStaleWhileTheOthersAnswer() throws Exception {
        AtomicInteger answersOfA = new AtomicInteger();
        AtomicInteger asksOfB = new AtomicInteger();
        CountDownLatch end = new CountDownLatch(1);
        HttpServer consul = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        ExecutorService handlers = Executors.newCachedThreadPool();
        consul.setExecutor(handlers);
        consul.createContext("/v1/catalog/services", ex -> answer(ex, 10, "{\"a\": [], \"b\": []}"));
        consul.createContext("/v1/health/service/a", ex -> {
            answer(ex, 10, "[]");
            answersOfA.incrementAndGet();
        });
        consul.createContext("/v1/health/service/b", ex -> {
            if (asksOfB.getAndIncrement() == 0) {
                ex.sendResponseHeaders(500, -1); // b fails once ...
                ex.close();
                return;
            }
            try {
                end.await(30, TimeUnit.SECONDS); // ... and its retry hangs: b's instances stay the last known ones
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ex.close();
        });
        consul.start();
        ConsulRegistry registry = new ConsulRegistry("127.0.0.1", consul.getAddress().getPort(), new ConsulRegistry.Settings(200, 10, 20));
        try {
            Await.until("b's failure and its retry", Duration.ofSeconds(5), () -> asksOfB.get() >= 2);
            int before = answersOfA.get();
            Await.until("three more answers about a", Duration.ofSeconds(5), () -> answersOfA.get() >= before + 3);

            assertTrue(registry.stale(), "a's answers made the registry look fresh while b's watch failed");
        } finally {
            end.countDown();
            registry.close();
            consul.stop(0);
            handlers.shutdownNow();
        }
    }
}

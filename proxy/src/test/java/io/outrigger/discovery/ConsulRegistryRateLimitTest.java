package io.outrigger.discovery;

import com.sun.net.httpserver.HttpServer;
import io.outrigger.testing.Await;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static io.outrigger.discovery.ConsulAnswers.answer;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A watch asks at most ten times a second. An answer that moved the index was asked again at once, so a registry
 * that does not block and moves its index with every read (or a catalog that changes all the time) met a tight
 * loop: some six hundred queries a second per watch.
 */
class ConsulRegistryRateLimitTest {

    @Test
    void aRegistryThatMovesItsIndexAtEveryReadIsAskedAtMostTenTimesASecond() throws Exception {
        AtomicLong index = new AtomicLong(1);
        HttpServer consul = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        ExecutorService handlers = Executors.newCachedThreadPool();
        consul.setExecutor(handlers);
        consul.createContext("/v1/catalog/services", ex -> answer(ex, index.incrementAndGet(), "{}"));
        consul.start();
        ConsulRegistry registry = new ConsulRegistry("127.0.0.1", consul.getAddress().getPort(),
                new ConsulRegistry.Settings(10_000, 100, 3_000));
        try {
            registry.ready().get(5, TimeUnit.SECONDS);
            long from = index.get();
            long start = System.nanoTime();
            Await.until("twenty more queries", Duration.ofSeconds(20), () -> index.get() >= from + 20);
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(millis >= 1_500, "twenty queries in " + millis + " ms");
        } finally {
            registry.close();
            consul.stop(0);
            handlers.shutdownNow();
        }
    }
}

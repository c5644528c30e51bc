package io.outrigger.discovery;

import com.sun.net.httpserver.HttpServer;
import io.outrigger.testing.Await;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import static io.outrigger.discovery.ConsulAnswers.answer;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A watch the registry keeps failing (one service refused by an ACL, say) waits out its own backoff while the others
 * answer. Each of their answers ended the "outage" and made every watch waiting on a backoff ask at once, so the
 * failing one asked as often as the others answered: here ten times a second, with a backoff of up to 2 s.
 */
class ConsulRegistryFailingWatchBackoffTest {

    @Test
    void aWatchThatKeepsFailingBacksOffWhileTheOthersAnswer() throws Exception {
        AtomicInteger asksOfOpen = new AtomicInteger();
        AtomicInteger asksOfDenied = new AtomicInteger();
        HttpServer consul = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        ExecutorService handlers = Executors.newCachedThreadPool();
        consul.setExecutor(handlers);
        consul.createContext("/v1/catalog/services", ex -> answer(ex, 1, "{\"open\": [], \"denied\": []}"));
        consul.createContext("/v1/health/service/open", ex -> {
            asksOfOpen.incrementAndGet();
            // the same index at once: the registry does not block, so the watch asks again after its short pause
            answer(ex, 1, "[{\"Service\": {\"ID\": \"o\", \"Service\": \"open\", \"Address\": \"127.0.0.1\", \"Port\": 1},"
                    + " \"Checks\": []}]");
        });
        consul.createContext("/v1/health/service/denied", ex -> {
            asksOfDenied.incrementAndGet();
            ex.sendResponseHeaders(403, -1);
            ex.close();
        });
        consul.start();
        ConsulRegistry registry = new ConsulRegistry("127.0.0.1", consul.getAddress().getPort(),
                new ConsulRegistry.Settings(200, 2_000, 2_000));
        try {
            Await.until("the open service answered", Duration.ofSeconds(5), () -> !registry.endpoints("open").isEmpty());
            Await.until("the denied service refused", Duration.ofSeconds(5), () -> asksOfDenied.get() > 0);
            int open = asksOfOpen.get();
            int denied = asksOfDenied.get();
            Await.until("thirty more answers for the open service", Duration.ofSeconds(20), () -> asksOfOpen.get() >= open + 30);
            int deniedAsks = asksOfDenied.get() - denied;
            // about 3 s at a random 0..2 s backoff each: a few asks, not one per answer of the open service
            assertTrue(deniedAsks < 12, "the denied service was asked " + deniedAsks + " times in "
                    + (asksOfOpen.get() - open) + " answers of the open one");
        } finally {
            registry.close();
            consul.stop(0);
            handlers.shutdownNow();
        }
    }
}

package io.outrigger.discovery;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.outrigger.testing.Await;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static io.outrigger.discovery.ConsulAnswers.answer;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * After an outage, the first answer resyncs every watch at once (README: "the first answer after an outage
 * resyncs everything"), not each at the end of its own jittered backoff, which spread the catalog and the
 * services' instances over seconds of mixed old and new state.
 */
class ConsulRegistryResyncTest {
    private static final List<String> SERVICES = List.of("s1", "s2", "s3", "s4", "s5");

    @Test
    void theFirstAnswerAfterAnOutageResyncsEveryWatchAtOnce() throws Exception {
        AtomicBoolean down = new AtomicBoolean();
        AtomicBoolean moved = new AtomicBoolean(); // after the outage every service has moved to port 2
        HttpServer consul = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        ExecutorService handlers = Executors.newCachedThreadPool();
        consul.setExecutor(handlers);
        consul.createContext("/v1/catalog/services", ex -> {
            if (!refused(ex, down.get())) {
                answer(ex, 1, "{\"s1\": [], \"s2\": [], \"s3\": [], \"s4\": [], \"s5\": []}");
            }
        });
        for (String s : SERVICES) {
            consul.createContext("/v1/health/service/" + s, ex -> {
                if (!refused(ex, down.get())) {
                    int port = moved.get() ? 2 : 1;
                    answer(ex, port, "[{\"Service\": {\"ID\": \"" + s + "\", \"Service\": \"" + s
                            + "\", \"Address\": \"127.0.0.1\", \"Port\": " + port + "}, \"Checks\": []}]");
                }
            });
        }
        consul.start();
        // A 5 s backoff (3 s by default): without the resync, the six watches came back at six random moments.
        ConsulRegistry registry = new ConsulRegistry("127.0.0.1", consul.getAddress().getPort(),
                new ConsulRegistry.Settings(200, 5_000, 5_000));
        try {
            registry.ready().get(5, TimeUnit.SECONDS);
            assertEquals(Set.copyOf(SERVICES), registry.services());

            down.set(true);
            await("the outage noticed", 5_000, registry::stale);
            moved.set(true);
            down.set(false);
            await("a first watch answered again", 10_000, () -> SERVICES.stream().anyMatch(s -> port(registry, s) == 2));
            long first = System.nanoTime();
            await("every service resynced soon after the first answer", 10_000,
                    () -> SERVICES.stream().allMatch(s -> port(registry, s) == 2));
            long spreadMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - first);
            assertTrue(spreadMillis < 1_000, "the last service resynced " + spreadMillis + " ms after the first");
        } finally {
            registry.close();
            consul.stop(0);
            handlers.shutdownNow();
        }
    }

    /**
     * One service the registry keeps refusing (an ACL, say) while the others answer: every answer of theirs ends
     * the "outage", and the refused watch logged a WARN and an INFO again for each one. Once is enough; a real
     * outage later is logged again.
     */
    @Test
    void aWatchThatKeepsFailingWhileTheOthersAnswerIsLoggedOnce() throws Exception {
        AtomicBoolean down = new AtomicBoolean();
        AtomicInteger asks = new AtomicInteger();
        HttpServer consul = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        ExecutorService handlers = Executors.newCachedThreadPool();
        consul.setExecutor(handlers);
        consul.createContext("/v1/catalog/services", ex -> {
            if (!refused(ex, down.get())) {
                answer(ex, 1, "{\"open\": [], \"denied\": []}");
            }
        });
        consul.createContext("/v1/health/service/open", ex -> {
            asks.incrementAndGet();
            if (!refused(ex, down.get())) {
                answer(ex, 1, "[{\"Service\": {\"ID\": \"o\", \"Service\": \"open\", \"Address\": \"127.0.0.1\", \"Port\": 1},"
                        + " \"Checks\": []}]");
            }
        });
        consul.createContext("/v1/health/service/denied", ex -> refused(ex, true));
        consul.start();
        ConsulRegistry registry = new ConsulRegistry("127.0.0.1", consul.getAddress().getPort(),
                new ConsulRegistry.Settings(200, 50, 100));
        try {
            await("the open service answered", 5_000, () -> !registry.endpoints("open").isEmpty());
            int seen = asks.get();
            await("ten more answers for the open service", 20_000, () -> asks.get() >= seen + 10);
            assertEquals(1, registry.outageWarnings(), "the refused watch is reported once, not at every other answer");

            down.set(true);
            await("a real outage to be logged", 5_000, () -> registry.outageWarnings() == 2);
        } finally {
            registry.close();
            consul.stop(0);
            handlers.shutdownNow();
        }
    }

    private static int port(Registry registry, String service) {
        List<Endpoint> list = registry.endpoints(service);
        return list.isEmpty() ? 0 : list.get(0).port();
    }

    private static boolean refused(HttpExchange ex, boolean down) throws IOException {
        if (down) {
            ex.sendResponseHeaders(500, -1);
            ex.close();
        }
        return down;
    }


    private static void await(String what, long millis, BooleanSupplier condition) throws InterruptedException {
        Await.until(what, java.time.Duration.ofMillis(millis), condition);
    }
}

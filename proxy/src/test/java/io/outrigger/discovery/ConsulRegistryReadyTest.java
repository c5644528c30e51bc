package io.outrigger.discovery;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static io.outrigger.discovery.ConsulAnswers.answer;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link ConsulRegistry#ready()} (what {@code /ready} waits for) completes once the catalog and the
 * first answer of every service still in it arrived: a service the catalog drops before its first
 * answer does not hold readiness back for ever.
 */
class ConsulRegistryReadyTest {

    @Test
    void serviceDroppedFromTheCatalogBeforeItsFirstAnswerDoesNotHoldReadyBack() throws Exception {
        AtomicInteger catalogAsks = new AtomicInteger();
        HttpServer consul = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        ExecutorService handlers = Executors.newCachedThreadPool();
        consul.setExecutor(handlers);
        consul.createContext("/v1/catalog/services", ex -> {
            // First {a, b}; from then on only {a}, at a new index.
            boolean first = catalogAsks.getAndIncrement() == 0;
            answer(ex, first ? 1 : 2, first ? "{\"a\": [], \"b\": []}" : "{\"a\": []}");
        });
        consul.createContext("/v1/health/service/a", ex -> answer(ex, 1,
                "[{\"Service\": {\"ID\": \"a-1\", \"Service\": \"a\", \"Address\": \"127.0.0.1\", \"Port\": 9}, \"Checks\": []}]"));
        consul.createContext("/v1/health/service/b", ex -> {
            // Never answers: b is gone from the catalog before its first answer could arrive.
        });
        consul.start();
        ConsulRegistry registry = new ConsulRegistry("127.0.0.1", consul.getAddress().getPort(),
                new ConsulRegistry.Settings(200, 50, 100));
        try {
            registry.ready().get(5, TimeUnit.SECONDS);

            assertEquals(Set.of("a"), registry.services());
        } finally {
            registry.close();
            consul.stop(0);
            handlers.shutdownNow();
        }
    }

    @Test
    void anOutageBeforeTheFirstLoadDoesNotClaimToKeepAnything() {
        assertEquals("registry http://127.0.0.1:8500: GET /v1/catalog/services failed (connection refused);"
                        + " no instances known yet (not ready), retrying with backoff",
                ConsulRegistry.outageMessage("http://127.0.0.1:8500", "GET /v1/catalog/services", "connection refused", false, 0));
        assertEquals("registry r: watch of b failed (status 500); keeping the last known instances of 2 services,"
                        + " retrying with backoff",
                ConsulRegistry.outageMessage("r", "watch of b", "status 500", true, 2));
    }

}

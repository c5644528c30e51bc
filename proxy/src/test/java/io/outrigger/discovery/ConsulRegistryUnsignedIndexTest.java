package io.outrigger.discovery;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.outrigger.testing.Await;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * Consul's {@code X-Consul-Index} is an opaque uint64. One above {@link Long#MAX_VALUE} read as "no index", so each
 * watch asked {@code ?index=1}, which a registry at that index answers at once: ten queries a second per watch
 * instead of one blocking query.
 */
class ConsulRegistryUnsignedIndexTest {
    private static final String HUGE = "18446744073709551615"; // 2^64 - 1

    @Test
    void anIndexAboveLongMaxIsSentBackAsItCame() throws Exception {
        Set<String> asked = ConcurrentHashMap.newKeySet();
        CountDownLatch end = new CountDownLatch(1);
        HttpServer consul = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        ExecutorService handlers = Executors.newCachedThreadPool();
        consul.setExecutor(handlers);
        consul.createContext("/v1/catalog/services", ex -> answerAtHugeIndex(ex, asked, end, "catalog", "{\"b\": []}"));
        consul.createContext("/v1/health/service/b", ex -> answerAtHugeIndex(ex, asked, end, "b",
                "[{\"Service\": {\"ID\": \"b\", \"Service\": \"b\", \"Address\": \"127.0.0.1\", \"Port\": 1}, \"Checks\": []}]"));
        consul.start();
        ConsulRegistry registry = new ConsulRegistry("127.0.0.1", consul.getAddress().getPort(),
                new ConsulRegistry.Settings(10_000, 100, 3_000));
        try {
            registry.ready().get(5, TimeUnit.SECONDS);
            Await.until("both watches blocking at the registry's index", Duration.ofSeconds(5),
                    () -> asked.containsAll(Set.of("catalog", "b")));
        } finally {
            end.countDown();
            registry.close();
            consul.stop(0);
            handlers.shutdownNow();
        }
    }

    /** Answers at once without an index or with another one; holds a query at {@link #HUGE} as a blocking query. */
    private static void answerAtHugeIndex(HttpExchange ex, Set<String> asked, CountDownLatch end,
                                          String what, String body) throws IOException {
        String query = ex.getRequestURI().getRawQuery();
        if (query != null && query.contains("index=" + HUGE + "&")) {
            asked.add(what);
            try {
                end.await(); // nothing changes: a blocking query holds until the test ends
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        ex.getResponseHeaders().set("X-Consul-Index", HUGE);
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(200, bytes.length);
        ex.getResponseBody().write(bytes);
        ex.close();
    }
}

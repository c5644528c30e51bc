package io.outrigger.discovery;

import com.sun.net.httpserver.HttpServer;
import io.outrigger.testing.Await;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static io.outrigger.discovery.ConsulAnswers.answer;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * What the registry lists in all, for the pools that close connections to instances it no longer lists:
 * the instances of services asked for by name that the catalog does not list count too (they are routed),
 * and withheld ones (they may pass again).
 */
class ConsulRegistryAllEndpointsTest {
    private static String instance(String service, int port, String status) {
        return "{\"Service\": {\"ID\": \"" + service + "-" + port + "\", \"Service\": \"" + service + "\", \"Address\": \"127.0.0.1\", \"Port\": "
                + port + "}, \"Checks\": [{\"Status\": \"" + status + "\"}]}";
    }

    @Test
    void servicesAskedForByNameCountWithTheCatalogs() throws Exception {
        HttpServer consul = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        ExecutorService handlers = Executors.newCachedThreadPool();
        consul.setExecutor(handlers);
        consul.createContext("/v1/catalog/services", ex -> answer(ex, 10, "{\"service-b\": []}"));
        consul.createContext("/v1/health/service/service-b", ex -> answer(ex, 10,
                "[" + instance("service-b", 9001, "passing") + ", " + instance("service-b", 9002, "critical") + "]"));
        consul.createContext("/v1/health/service/service-c", ex -> answer(ex, 10, "[" + instance("service-c", 9003, "passing") + "]"));
        consul.start();
        ConsulRegistry registry = new ConsulRegistry("127.0.0.1", consul.getAddress().getPort(), new ConsulRegistry.Settings(200, 100, 200));
        try {
            registry.ready().get(5, TimeUnit.SECONDS);
            registry.endpoints("service-c"); // not in the catalog: asked for by name, as a route would
            Await.until("service-c's instances", Duration.ofSeconds(5), () -> !registry.endpoints("service-c").isEmpty());
            assertEquals(Set.of("service-b"), registry.services());
            assertEquals(Set.of(new Endpoint("127.0.0.1", 9001), new Endpoint("127.0.0.1", 9002), new Endpoint("127.0.0.1", 9003)),
                    registry.allEndpoints());
        } finally {
            registry.close();
            consul.stop(0);
            handlers.shutdownNow();
        }
    }
}

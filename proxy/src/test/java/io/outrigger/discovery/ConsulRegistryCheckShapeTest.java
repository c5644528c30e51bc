package io.outrigger.discovery;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static io.outrigger.discovery.ConsulAnswers.answer;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * An instance whose checks come in another shape than Consul's array of objects is withheld as unreadable, not
 * routed: {@code "Checks": {"Status": "critical"}} was iterated as its values, none of them a check, and passed.
 */
class ConsulRegistryCheckShapeTest {
    private static String instance(int port, String checks) {
        return "{\"Service\": {\"ID\": \"b-" + port + "\", \"Service\": \"b\", \"Address\": \"127.0.0.1\", \"Port\": " + port
                + "}" + (checks == null ? "" : ", \"Checks\": " + checks) + "}";
    }

    @Test
    void checksOfTheWrongShapeDoNotPass() throws Exception {
        HttpServer consul = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        ExecutorService handlers = Executors.newCachedThreadPool();
        consul.setExecutor(handlers);
        consul.createContext("/v1/catalog/services", ex -> answer(ex, 10, "{\"b\": []}"));
        consul.createContext("/v1/health/service/b", ex -> answer(ex, 10, "["
                + instance(9001, "[{\"Status\": \"passing\"}]") + ", "
                + instance(9002, null) + ", "
                + instance(9003, "{\"Status\": \"critical\"}") + ", "
                + instance(9004, "\"critical\"") + ", "
                + instance(9005, "[\"critical\"]") + ", "
                + instance(9006, "[{\"Status\": 2}]") + "]"));
        consul.start();
        ConsulRegistry registry = new ConsulRegistry("127.0.0.1", consul.getAddress().getPort(), new ConsulRegistry.Settings(200, 100, 200));
        try {
            registry.ready().get(5, TimeUnit.SECONDS);

            assertEquals(List.of(new Endpoint("127.0.0.1", 9001), new Endpoint("127.0.0.1", 9002)), registry.endpoints("b"),
                    "routed: passing checks, and no checks at all");
            String notAnArray = "registry check unreadable (Checks: expected an array)";
            String notObjects = "registry check unreadable (Checks: expected objects with a Status string)";
            assertEquals(Map.of(new Endpoint("127.0.0.1", 9003), notAnArray, new Endpoint("127.0.0.1", 9004), notAnArray,
                    new Endpoint("127.0.0.1", 9005), notObjects, new Endpoint("127.0.0.1", 9006), notObjects), registry.withheld("b"));
        } finally {
            registry.close();
            consul.stop(0);
            handlers.shutdownNow();
        }
    }
}

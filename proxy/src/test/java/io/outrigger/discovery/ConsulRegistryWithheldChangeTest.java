package io.outrigger.discovery;

import com.sun.net.httpserver.HttpServer;
import io.outrigger.testing.Await;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static io.outrigger.discovery.ConsulAnswers.answer;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * An instance the registry withholds (its check critical) that is then deregistered has left the registry:
 * the change listeners hear it, as they do when a passing one leaves. They keep state per listed instance
 * (the outbound pools' connections, the instance breakers), which otherwise stayed until they idled out.
 */
class ConsulRegistryWithheldChangeTest {
    private static String instance(int port, String status) {
        return "{\"Service\": {\"ID\": \"b-" + port + "\", \"Service\": \"service-b\", \"Address\": \"127.0.0.1\", \"Port\": " + port
                + "}, \"Checks\": [{\"Status\": \"" + status + "\"}]}";
    }

    @Test
    void anAddressRegisteredTwiceIsWithheldWhenEitherRegistrationFails() throws Exception {
        HttpServer consul = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        ExecutorService handlers = Executors.newCachedThreadPool();
        consul.setExecutor(handlers);
        consul.createContext("/v1/catalog/services", ex -> answer(ex, 10, "{\"service-b\": []}"));
        // Two IDs for 127.0.0.1:9002, one passing and one critical; 9001 passing.
        String twice = "[" + instance(9001, "passing") + ", " + instance(9002, "passing") + ", "
                + instance(9002, "critical").replace("b-9002", "b-9002-again") + "]";
        consul.createContext("/v1/health/service/service-b", ex -> answer(ex, 10, twice));
        consul.start();
        ConsulRegistry registry = new ConsulRegistry("127.0.0.1", consul.getAddress().getPort(), new ConsulRegistry.Settings(200, 100, 200));
        try {
            registry.ready().get(5, TimeUnit.SECONDS);
            Endpoint b2 = new Endpoint("127.0.0.1", 9002);
            assertEquals(List.of(new Endpoint("127.0.0.1", 9001)), registry.endpoints("service-b"),
                    "not routed while one of its registrations is critical");
            assertEquals(Map.of(b2, "registry check critical"), registry.withheld("service-b"));
        } finally {
            registry.close();
            consul.stop(0);
            handlers.shutdownNow();
        }
    }

    @Test
    void aWithheldInstanceThatIsDeregisteredIsAChange() throws Exception {
        AtomicInteger phase = new AtomicInteger();
        List<String> bs = List.of("[" + instance(9001, "passing") + ", " + instance(9002, "critical") + "]",
                "[" + instance(9001, "passing") + "]");
        HttpServer consul = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        ExecutorService handlers = Executors.newCachedThreadPool();
        consul.setExecutor(handlers);
        consul.createContext("/v1/catalog/services", ex -> answer(ex, 10, "{\"service-b\": []}"));
        consul.createContext("/v1/health/service/service-b", ex -> answer(ex, 10 + phase.get(), bs.get(phase.get())));
        consul.start();
        ConsulRegistry registry = new ConsulRegistry("127.0.0.1", consul.getAddress().getPort(), new ConsulRegistry.Settings(200, 100, 200));
        List<Set<Endpoint>> heard = new CopyOnWriteArrayList<>(); // the withheld instances each change listener call saw
        registry.onChange(() -> heard.add(Set.copyOf(registry.withheld("service-b").keySet())));
        try {
            registry.ready().get(5, TimeUnit.SECONDS);
            Endpoint critical = new Endpoint("127.0.0.1", 9002);
            Await.until("the listeners told that 9002 is withheld", Duration.ofSeconds(5),
                    () -> !heard.isEmpty() && heard.get(heard.size() - 1).contains(critical));
            phase.set(1); // 9002 deregistered while critical: the passing list is the same
            Await.until("9002 gone from the registry", Duration.ofSeconds(5), () -> registry.withheld("service-b").isEmpty());
            Await.until("the listeners told that 9002 left", Duration.ofSeconds(5),
                    () -> !heard.isEmpty() && heard.get(heard.size() - 1).isEmpty());
        } finally {
            registry.close();
            consul.stop(0);
            handlers.shutdownNow();
        }
    }
}

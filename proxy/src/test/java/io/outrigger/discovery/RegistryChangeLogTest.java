package io.outrigger.discovery;

import com.sun.net.httpserver.HttpServer;
import io.outrigger.testing.Await;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static io.outrigger.discovery.ConsulAnswers.answer;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** A Consul-style registry logs each change of a service's instances after its first answer, one line each. */
class RegistryChangeLogTest {
    private static String instance(int port, String status) {
        return "{\"Service\": {\"ID\": \"b-" + port + "\", \"Service\": \"service-b\", \"Address\": \"127.0.0.1\", \"Port\": " + port
                + "}, \"Checks\": [{\"Status\": \"" + status + "\"}]}";
    }

    /** The RegistryChangeLog lines in {@code logged} so far, from "registry: " on. */
    private static List<String> changeLines(ByteArrayOutputStream logged) {
        return logged.toString(StandardCharsets.UTF_8).lines().filter(l -> l.contains("RegistryChangeLog") && l.contains("registry: "))
                .map(l -> l.substring(l.indexOf("registry: "))).toList();
    }

    @Test
    void eachChangeOfAServicesInstancesIsOneLineAndTheFirstAnswerNone() throws Exception {
        AtomicInteger phase = new AtomicInteger();
        List<String> catalogs = List.of("{\"service-b\": [], \"service-c\": []}", "{\"service-b\": [], \"service-c\": []}",
                "{\"service-b\": [], \"service-c\": []}", "{\"service-b\": []}");
        List<String> bs = List.of("[" + instance(9001, "passing") + "]",
                "[" + instance(9001, "passing") + ", " + instance(9002, "passing") + "]",
                "[" + instance(9001, "critical") + ", " + instance(9002, "passing") + "]",
                "[" + instance(9001, "critical") + ", " + instance(9002, "passing") + "]");
        HttpServer consul = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        ExecutorService handlers = Executors.newCachedThreadPool();
        consul.setExecutor(handlers);
        consul.createContext("/v1/catalog/services", ex -> answer(ex, 10 + phase.get(), catalogs.get(phase.get())));
        consul.createContext("/v1/health/service/service-b", ex -> answer(ex, 10 + phase.get(), bs.get(phase.get())));
        consul.createContext("/v1/health/service/service-c", ex -> answer(ex, 10, "[" + instance(9003, "passing")
                .replace("service-b", "service-c") + "]"));
        consul.start();
        PrintStream stderr = System.err;
        ByteArrayOutputStream logged = new ByteArrayOutputStream();
        System.setErr(new PrintStream(logged, true, StandardCharsets.UTF_8)); // slf4j-simple looks System.err up per line
        ConsulRegistry registry = new ConsulRegistry("127.0.0.1", consul.getAddress().getPort(), new ConsulRegistry.Settings(200, 100, 200));
        try {
            registry.ready().get(5, TimeUnit.SECONDS);
            // The registry publishes a change, then logs it: each line is awaited, not only the state (the last
            // one could come after System.err was given back, and be lost on a slow machine).
            phase.set(1); // + 9002
            Await.until("9002 added", Duration.ofSeconds(5), () -> registry.endpoints("service-b").size() == 2);
            Await.until("its line", Duration.ofSeconds(5), () -> changeLines(logged).size() >= 1);
            phase.set(2); // 9001's check fails: the registry withholds it
            Await.until("9001 withheld", Duration.ofSeconds(5), () -> registry.endpoints("service-b").size() == 1);
            Await.until("its line", Duration.ofSeconds(5), () -> changeLines(logged).size() >= 2);
            phase.set(3); // service-c leaves the catalog
            Await.until("service-c gone", Duration.ofSeconds(5), () -> !registry.contains("service-c"));
            Await.until("its line", Duration.ofSeconds(5), () -> changeLines(logged).size() >= 3);
        } finally {
            registry.close();
            System.setErr(stderr);
            consul.stop(0);
            handlers.shutdownNow();
        }
        List<String> lines = changeLines(logged);
        assertEquals(List.of("registry: service-b: 2 instances: +127.0.0.1:9002",
                "registry: service-b: 1 instance: -127.0.0.1:9001 (registry check critical)",
                "registry: service-c: 0 instances (the service left the registry): -127.0.0.1:9003"), lines);
    }
}

package io.outrigger.discovery;

import io.outrigger.SidecarContext;
import io.outrigger.config.SidecarConfig;
import io.outrigger.time.Ticker;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RegistryChangeLogTest {
    private static final Endpoint A = new Endpoint("127.0.0.1", 9001);
    private static final Endpoint B = new Endpoint("127.0.0.1", 9002);
    private static final Endpoint C = new Endpoint("127.0.0.1", 9003);

    /** A registry whose state the test sets, answering once {@link #ready} completes, as a remote one would. */
    private static final class Changing implements Registry {
        final Map<String, List<Endpoint>> instances = new LinkedHashMap<>();
        final Map<String, Map<Endpoint, String>> withheld = new LinkedHashMap<>();
        final CompletableFuture<Void> ready = new CompletableFuture<>();
        final List<Runnable> listeners = new CopyOnWriteArrayList<>();

        void set(String service, List<Endpoint> routable, Map<Endpoint, String> listedNotPassing) {
            instances.put(service, routable);
            withheld.put(service, listedNotPassing);
            listeners.forEach(Runnable::run);
        }

        void remove(String service) {
            instances.remove(service);
            withheld.remove(service);
            listeners.forEach(Runnable::run);
        }

        @Override
        public List<Endpoint> endpoints(String service) {
            return instances.getOrDefault(service, List.of());
        }

        @Override
        public Map<Endpoint, String> withheld(String service) {
            return withheld.getOrDefault(service, Map.of());
        }

        @Override
        public boolean contains(String service) {
            return instances.containsKey(service);
        }

        @Override
        public Set<String> services() {
            return instances.keySet();
        }

        @Override
        public CompletableFuture<Void> ready() {
            return ready;
        }

        @Override
        public void onChange(Runnable listener) {
            listeners.add(listener);
        }

        @Override
        public String describe() {
            return "changing";
        }
    }

    @Test
    void eachChangeOfAServicesInstancesIsOneLineAndTheFirstAnswerNone() {
        Changing registry = new Changing();
        new SidecarContext(SidecarConfig.defaults(), registry, Ticker.system()); // registers the change log as the sidecar does
        List<String> lines = new ArrayList<>();
        PrintStream stderr = System.err;
        ByteArrayOutputStream logged = new ByteArrayOutputStream();
        System.setErr(new PrintStream(logged, true, StandardCharsets.UTF_8)); // slf4j-simple looks System.err up per line
        try {
            registry.set("service-b", List.of(A), Map.of());            // filling in before the first answer: not logged
            registry.set("service-c", List.of(C), Map.of());
            registry.ready.complete(null);                                // the first answer: remembered only
            registry.set("service-b", List.of(A, B), Map.of());           // + B
            registry.set("service-b", List.of(A, B), Map.of());           // no change: no line
            registry.set("service-b", List.of(B), Map.of(A, "registry check critical"));
            registry.remove("service-c");
        } finally {
            System.setErr(stderr);
        }
        logged.toString(StandardCharsets.UTF_8).lines().filter(l -> l.contains("RegistryChangeLog")).forEach(lines::add);
        assertEquals(3, lines.size(), lines::toString);
        assertTrue(lines.get(0).endsWith("registry: service-b: 2 instances: +127.0.0.1:9002"), lines::toString);
        assertTrue(lines.get(1).endsWith("registry: service-b: 1 instance: -127.0.0.1:9001 (registry check critical)"),
                lines::toString);
        assertTrue(lines.get(2).endsWith("registry: service-c: 0 instances (the service left the registry): -127.0.0.1:9003"),
                lines::toString);
    }
}

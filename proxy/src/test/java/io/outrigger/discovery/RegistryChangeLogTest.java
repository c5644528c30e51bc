package io.outrigger.discovery;

import io.outrigger.SidecarContext;
import io.outrigger.config.SidecarConfig;
import io.outrigger.time.Ticker;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RegistryChangeLogTest {
    private static final Endpoint A = new Endpoint("127.0.0.1", 9001);
    private static final Endpoint B = new Endpoint("127.0.0.1", 9002);
    private static final Endpoint C = new Endpoint("127.0.0.1", 9003);

    @Test
    void eachChangeOfAServicesInstancesIsOneLineAndTheFirstAnswerNone() {
        ChangingRegistry registry = new ChangingRegistry(false);
        new SidecarContext(SidecarConfig.defaults(), registry, Ticker.system()); // registers the change log as the sidecar does
        List<String> lines = new ArrayList<>();
        PrintStream stderr = System.err;
        ByteArrayOutputStream logged = new ByteArrayOutputStream();
        System.setErr(new PrintStream(logged, true, StandardCharsets.UTF_8)); // slf4j-simple looks System.err up per line
        try {
            registry.set("service-b", List.of(A), Map.of());            // filling in before the first answer: not logged
            registry.set("service-c", List.of(C), Map.of());
            registry.answer();                                // the first answer: remembered only
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

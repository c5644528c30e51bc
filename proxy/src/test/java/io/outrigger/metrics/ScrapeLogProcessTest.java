package io.outrigger.metrics;

import io.outrigger.testing.Await;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * What {@code outrigger run} writes on stderr while it is scraped, in a process of its own: Micrometer warns
 * once per JVM, so only a fresh one shows what an operator's first scrapes leave in the log.
 */
class ScrapeLogProcessTest {
    private static final Pattern ADMIN_PORT = Pattern.compile("admin listener bound on 127\\.0\\.0\\.1:(\\d+)");
    private Process sidecar;

    @AfterEach
    void stop() throws InterruptedException {
        if (sidecar != null) {
            sidecar.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    /**
     * The connection-limit counters were registered again at every scrape; from the second scrape on, Micrometer
     * answered each time with a WARN ("This FunctionCounter has been already registered ..."), which reads as a fault.
     */
    @Test
    void repeatedScrapesLogNothing(@TempDir Path dir) throws Exception {
        Path registry = dir.resolve("registry.json");
        // An instance that is never contacted: no traffic is sent through the relay.
        Files.writeString(registry, "{\"services\": {\"svc\": [{\"host\": \"127.0.0.1\", \"port\": 9}]}}");
        Path config = dir.resolve("sidecar.yaml");
        Files.writeString(config, """
                name: scraped
                registry: file:%s
                io_threads: 1
                drain_ms: 100
                listeners:
                  admin: { port: 0 }
                  outbound: { port: 0 }
                  tcp: [ { port: 0, service: svc } ]
                """.formatted(registry));
        Path stderr = dir.resolve("stderr.log");
        sidecar = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                "io.outrigger.cli.Main", "run", "--config", config.toString())
                .redirectError(stderr.toFile()).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        Await.until("the sidecar is ready", Duration.ofSeconds(20), () -> read(stderr).contains("ready:"));
        Matcher m = ADMIN_PORT.matcher(read(stderr));
        m.find();
        URI metrics = URI.create("http://127.0.0.1:" + m.group(1) + "/metrics");
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        for (int i = 0; i < 3; i++) {
            HttpResponse<String> res = http.send(HttpRequest.newBuilder(metrics).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, res.statusCode());
        }
        // Scrapes are answered after their gauges were read, so a WARN they caused is already on its way to stderr;
        // the log is read once the process is gone, with everything it wrote.
        sidecar.destroy();
        sidecar.waitFor(15, TimeUnit.SECONDS);
        // Micrometer's own lines only: the machine may have its say at start (a low open-files limit is a WARN).
        List<String> micrometer = read(stderr).lines().filter(l -> l.contains("io.micrometer")).toList();
        assertEquals(List.of(), micrometer);
        assertFalse(read(stderr).contains("already registered"), read(stderr));
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}

package io.outrigger.it.lifecycle;

import io.outrigger.it.harness.FreePorts;
import io.outrigger.it.harness.ManagedProcess;
import io.outrigger.it.harness.ProjectLayout;
import io.outrigger.registry.fake.Behaviour;
import io.outrigger.registry.fake.FakeService;
import io.outrigger.testing.Closer;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The access log's promise, end to end through a real sidecar process: one JSON line on stderr per
 * request, whatever became of it. Answered, retried onto a second instance, pipelined, unknown
 * service, malformed, header block too large: eleven requests, eleven lines, with their statuses
 * and attempts, all written by the time the process exits after SIGTERM.
 */
class AccessLogLinesTest {
    private static final Duration WAIT = Duration.ofSeconds(15);
    private static final Pattern STATUS = Pattern.compile("\"status\": (\\d{3})");
    private static final Pattern ATTEMPTS = Pattern.compile("\"attempts\": (\\d+)");
    @AutoClose
    private final Closer open = new Closer();

    @Test
    void everyRequestGetsExactlyOneLine() throws Exception {
        ProjectLayout layout = ProjectLayout.current();
        layout.requireJars();
        FakeService live = FakeService.start(FakeService.Settings.local("service-b"), new Behaviour(0, 0));
        open.add(live::close);
        int refusing = FreePorts.next(); // nothing listens there, and FreePorts hands it to no one else (the admin listener got it once)
        int admin = FreePorts.next();
        int outbound = FreePorts.next();
        Path dir = layout.logDir().resolve("access-log-lines");
        Files.createDirectories(dir);
        String liveJson = "{\"host\": \"127.0.0.1\", \"port\": " + live.port() + "}";
        Path registry = Files.writeString(dir.resolve("registry.json"), "{\"services\": {\"service-b\": [" + liveJson + "], "
                + "\"service-r\": [{\"host\": \"127.0.0.1\", \"port\": " + refusing + "}, " + liveJson + "]}}");
        Path config = Files.writeString(dir.resolve("sidecar.yaml"), "name: log-sidecar\nservice: service-a\n"
                + "registry: file:" + registry + "\ndrain_ms: 500\n"
                + "resilience: { retry: { base_ms: 1, max_ms: 2 } }\n"
                + "listeners:\n"
                + "  admin: { port: " + admin + " }\n"
                + "  outbound: { port: " + outbound + " }\n");
        ManagedProcess sidecar = ManagedProcess.startSidecar("log-sidecar", layout.proxyJar(), List.of(), config, admin, dir, WAIT);
        open.add(sidecar::kill);

        // Three keep-alive requests, pipelined; two to a service whose first instance refuses (round robin
        // starts there, so one of them is retried); an unknown service; three more pipelined.
        assertAnswers(outbound, List.of(200, 200, 200), get("service-b", "/a"), get("service-b", "/b"), get("service-b", "/c") + CLOSE);
        assertAnswers(outbound, List.of(200, 200), get("service-r", "/r1"), get("service-r", "/r2") + CLOSE);
        assertAnswers(outbound, List.of(404), get("service-zzz", "/x") + CLOSE);
        assertAnswers(outbound, List.of(200, 200, 200), get("service-b", "/p1"), get("service-b", "/p2"), get("service-b", "/p3") + CLOSE);
        // Refused before routing: a malformed request line, and a header block over the default 16 KiB.
        assertAnswers(outbound, List.of(400), "GET /a b c HTTP/1.1\r\nHost: service-b\r\n\r\n");
        assertAnswers(outbound, List.of(431), "GET / HTTP/1.1\r\nHost: service-b\r\nX-Big: " + "a".repeat(20_000) + "\r\n\r\n");

        sidecar.terminate();
        assertEquals(Optional.of(0), sidecar.awaitExit(WAIT), "exit code; log:\n" + sidecar.logTail(20));
        List<String> lines = Files.readAllLines(sidecar.logFile(), StandardCharsets.UTF_8).stream()
                .filter(l -> l.startsWith("{\"edge\": \"outbound\"")).toList();
        assertEquals(11, lines.size(), "one line per request:\n" + String.join("\n", lines));
        assertEquals(Map.of(200, 8L, 404, 1L, 400, 1L, 431, 1L), count(lines, STATUS), String.join("\n", lines));
        Map<Integer, Long> attempts = count(lines, ATTEMPTS);
        assertEquals(3L, attempts.get(0), "no attempt for the 404 and the two refused before routing: " + attempts);
        assertEquals(8L, attempts.getOrDefault(1, 0L) + attempts.getOrDefault(2, 0L), "one or two for the others: " + attempts);
        assertTrue(lines.stream().anyMatch(l -> l.contains("\"path\": \"/r") && l.contains("\"attempts\": 2")),
                "a request to service-r was retried past the refusing instance:\n" + String.join("\n", lines));
    }

    private static final String CLOSE = "\u0000close";

    private static String get(String service, String path) {
        return "GET " + path + " HTTP/1.1\r\nHost: " + service + "\r\n\r\n";
    }

    /** Sends the requests in one write (the last one asking to close, marked with {@link #CLOSE}); checks the statuses in order. */
    private static void assertAnswers(int port, List<Integer> statuses, String... requests) throws IOException {
        StringBuilder wire = new StringBuilder();
        for (String r : requests) {
            wire.append(r.endsWith(CLOSE) ? r.substring(0, r.length() - CLOSE.length()).replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n") : r);
        }
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout((int) WAIT.toMillis());
            s.getOutputStream().write(wire.toString().getBytes(StandardCharsets.ISO_8859_1));
            String replies = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            List<Integer> seen = Pattern.compile("HTTP/1\\.1 (\\d{3}) ").matcher(replies).results()
                    .map(m -> Integer.parseInt(m.group(1))).toList();
            assertEquals(statuses, seen, replies);
        }
    }

    private static Map<Integer, Long> count(List<String> lines, Pattern field) {
        return lines.stream().map(l -> {
            Matcher m = field.matcher(l);
            return m.find() ? Integer.parseInt(m.group(1)) : -1;
        }).collect(Collectors.groupingBy(Function.identity(), TreeMap::new, Collectors.counting()));
    }
}

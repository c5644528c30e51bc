package io.outrigger.http;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.outrigger.http.SidecarHarness.instance;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A 1 GiB request body and a 1 GiB response body stream through a sidecar JVM whose heap is
 * capped at 256 MiB (direct memory at 128 MiB): bodies are never aggregated and backpressure
 * holds memory bounded.
 */
class LargeBodyTest {
    private static final long ONE_GIB = 1L << 30;
    private static final Pattern BOUND = Pattern.compile("outbound listener bound on [^:]+:(\\d+)");

    @TempDir
    Path dir;

    /** GETs a generated body of {@code size} bytes and counts it without keeping it. */
    private static long download(int port, long size) throws Exception {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(30_000);
            s.getOutputStream().write(("GET /download?bytes=" + size + " HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            java.io.InputStream in = new java.io.BufferedInputStream(s.getInputStream(), 256 * 1024);
            int matched = 0;
            StringBuilder head = new StringBuilder();
            while (matched < 4) {
                int c = in.read();
                if (c < 0) {
                    throw new AssertionError("closed in the head: " + head);
                }
                head.append((char) c);
                matched = (c == '\r' || c == '\n') && "\r\n\r\n".charAt(matched) == c ? matched + 1 : 0;
            }
            assertTrue(head.toString().startsWith("HTTP/1.1 200"), head.toString());
            byte[] buf = new byte[256 * 1024];
            long total = 0;
            int n;
            while ((n = in.read(buf)) > 0) {
                total += n;
            }
            return total;
        }
    }

    @Test
    void oneGibBodyStreamsThroughCappedHeap() throws Exception {
        try (TestUpstream upstream = new TestUpstream()) {
            Path registry = SidecarHarness.registry(dir, "\"service-b\": [" + instance(upstream.port()) + "]");
            Path config = dir.resolve("sidecar.yaml");
            Files.writeString(config, SidecarHarness.yaml(registry,
                    "resilience:\n  timeouts: { connect_ms: 1000, request_ms: 60000 }\n"));
            Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx256m", "-XX:MaxDirectMemorySize=128m", "-Dio.netty.leakDetection.level=paranoid",
                    "-cp", System.getProperty("java.class.path"),
                    "io.outrigger.cli.Main", "run", "--config", config.toString())
                    .redirectErrorStream(true).start();
            try {
                CompletableFuture<Integer> port = new CompletableFuture<>();
                java.util.Queue<String> leaks = new java.util.concurrent.ConcurrentLinkedQueue<>();
                Thread drain = new Thread(() -> {
                    try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                        String line;
                        while ((line = r.readLine()) != null) {
                            if (line.contains("LEAK:")) {
                                leaks.add(line);
                            }
                            Matcher m = BOUND.matcher(line);
                            if (m.find()) {
                                port.complete(Integer.parseInt(m.group(1)));
                            }
                        }
                    } catch (Exception e) {
                        port.completeExceptionally(e);
                    }
                    port.completeExceptionally(new AssertionError("sidecar exited before binding"));
                }, "child-output");
                drain.setDaemon(true);
                drain.start();
                int p = port.get(20, TimeUnit.SECONDS);

                long start = System.nanoTime();
                String response;
                try (Socket s = new Socket("127.0.0.1", p)) {
                    s.setSoTimeout(30_000);
                    OutputStream out = s.getOutputStream();
                    out.write(("POST /upload HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\nContent-Length: " + ONE_GIB + "\r\n\r\n")
                            .getBytes(StandardCharsets.ISO_8859_1));
                    byte[] block = new byte[256 * 1024];
                    for (long sent = 0; sent < ONE_GIB; sent += block.length) {
                        out.write(block);
                    }
                    out.flush();
                    response = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
                }
                long seconds = (System.nanoTime() - start) / 1_000_000_000;
                assertTrue(response.startsWith("HTTP/1.1 200"), response);
                assertTrue(response.contains("\"bytes\": " + ONE_GIB), response);
                assertTrue(seconds < 60, "upload took " + seconds + " s (a few seconds on an idle machine)");

                start = System.nanoTime();
                long received = download(p, ONE_GIB);
                seconds = (System.nanoTime() - start) / 1_000_000_000;
                assertTrue(received == ONE_GIB, "downloaded " + received + " bytes");
                assertTrue(seconds < 60, "download took " + seconds + " s");
                assertTrue(child.isAlive(), "the sidecar survived");
                assertTrue(leaks.isEmpty(), "the sidecar (paranoid leak detection) reported leaks: " + leaks);
            } finally {
                child.destroy();
                if (!child.waitFor(10, TimeUnit.SECONDS)) {
                    child.destroyForcibly();
                }
            }
        }
    }
}

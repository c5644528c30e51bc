package io.outrigger.stdin;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static io.outrigger.jsonline.JsonLineTesting.assertReply;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code outrigger stdin} as its own process, talked to over pipes. Runs the main class from this
 * build's classpath (the fat jar is only packaged after the test phase).
 */
class StdinProcessTest {
    private final List<Process> processes = new ArrayList<>();
    private final StringBuffer stderr = new StringBuffer();

    @AfterEach
    void kill() {
        processes.forEach(Process::destroyForcibly);
    }

    private Process start(String... args) throws IOException {
        return startWithJvmFlags(List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"), args);
    }

    private Process startWithJvmFlags(List<String> jvmFlags, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(jvmFlags);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.outrigger.cli.Main", "stdin"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.PIPE).start();
        processes.add(p);
        return p;
    }

    private static void send(Process p, String line) throws IOException {
        OutputStream in = p.getOutputStream();
        in.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        in.flush();
    }

    private static BufferedReader stdout(Process p) {
        return new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    }

    private static int exitCode(Process p) throws InterruptedException {
        assertTrue(p.waitFor(10, TimeUnit.SECONDS), "the process exits");
        return p.exitValue();
    }

    @Test
    void conversationOverPipesThenEndOfInputWithARetryInFlight() throws Exception {
        Process p = start();
        BufferedReader out = stdout(p);
        // Each reply arrives while stdin stays open: nothing is held back waiting for more input.
        send(p, "{\"src\":\"c0\",\"dest\":\"n1\",\"body\":{\"type\":\"init\",\"msg_id\":1,\"node_id\":\"n1\",\"node_ids\":[\"n1\"]}}");
        assertEquals("{\"src\":\"n1\",\"dest\":\"c0\",\"body\":{\"type\":\"init_ok\",\"in_reply_to\":1,\"msg_id\":0}}", out.readLine());
        send(p, "{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":2,\"path\":\"/api/users/123\"},\"proxy\":true}");
        assertReply("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"proxied\",\"in_reply_to\":2,\"proxied_by\":\"sidecar-a\",\"trace_id\":\"<uuid>\"}}",
                out.readLine());
        send(p, "this is not json");
        send(p, "[1, 2]");
        send(p, "{\"src\":\"c0\",\"dest\":\"n1\",\"body\":{\"msg_id\":9}}");
        assertEquals("{\"src\":\"n1\",\"dest\":\"c0\",\"body\":{\"type\":\"error\",\"in_reply_to\":9,\"code\":12,"
                + "\"text\":\"body.type: missing (expected: a string)\"}}", out.readLine());
        send(p, "{\"src\":\"sidecar\",\"dest\":\"registry\",\"body\":{\"type\":\"discover\",\"msg_id\":3,\"service\":\"service-b\"}}");
        assertEquals("{\"src\":\"registry\",\"dest\":\"sidecar\",\"body\":{\"type\":\"discovered\",\"in_reply_to\":3,\"service\":\"service-b\","
                + "\"instances\":[{\"host\":\"10.0.1.1\",\"port\":8080},{\"host\":\"10.0.1.2\",\"port\":8080}]}}", out.readLine());

        send(p, "{\"src\":\"service-a\",\"dest\":\"service-c\",\"body\":{\"type\":\"call\",\"msg_id\":4,\"retries\":3,\"base_ms\":100,\"force_failures\":2}}");
        p.getOutputStream().close();
        long eof = System.nanoTime();
        assertReply("{\"src\":\"service-c\",\"dest\":\"service-a\",\"body\":{\"type\":\"proxied\",\"in_reply_to\":4,\"proxied_by\":\"sidecar-a\","
                + "\"trace_id\":\"<uuid>\",\"attempts\":3,\"backoff_ms\":[100,200]}}", out.readLine());
        assertEquals(null, out.readLine());
        assertEquals(0, exitCode(p));
        assertTrue(System.nanoTime() - eof < TimeUnit.SECONDS.toNanos(4), "exits soon after the last reply");
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(3, err.lines().filter(l -> l.contains("malformed")).count(), "one stderr line for each bad line:\n" + err);
    }

    /**
     * An empty or blank {@code --name} is a user mistake, as for {@code run}: one line, exit 1, no node started
     * (it used to answer every call with {@code "proxied_by":""}). Both the picocli path ({@code --name=}) and the
     * plain one ({@code --name " "}).
     */
    @Test
    void anEmptyNameIsRefusedAsRunRefusesIt() throws Exception {
        for (String[] args : new String[][] {{"--name="}, {"--name", ""}, {"--name", " "}}) {
            Process p = start(args);
            send(p, "{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":1}}");
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(1, exitCode(p), String.join(" ", args) + " -> stdout: " + out);
            assertEquals("", out, "no reply");
            String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals("outrigger: --name: \"" + args[args.length - 1].replace("--name=", "")
                    + "\" (expected: a non-empty string)", err.strip());
        }
    }

    /** Lines that are not UTF-8: one stderr line each, code 12 when a msg_id can be read, the next line answered. */
    @Test
    void linesThatAreNotUtf8AreMalformed() throws Exception {
        Process p = start();
        OutputStream in = p.getOutputStream();
        in.write(io.outrigger.jsonline.JsonLineTesting.linesWithInvalidUtf8());
        in.close();
        BufferedReader out = stdout(p);
        for (String expected : io.outrigger.jsonline.JsonLineTesting.REPLIES_TO_INVALID_UTF8) {
            assertEquals(expected, out.readLine());
        }
        assertEquals(null, out.readLine(), "no other reply");
        assertEquals(0, exitCode(p));
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(5, err.lines().filter(l -> l.contains("malformed")).count(), "one stderr line for each bad line:\n" + err);
    }

    /**
     * A harness that writes its input before it reads the replies: once 16 MiB of replies wait, the node stops
     * reading stdin (the writer blocks) instead of holding every reply in memory; once stdout is read, every
     * reply arrives, in order, and the node exits 0, with a heap far smaller than the replies.
     */
    @Test
    void unreadStdoutHoldsUpStdinInsteadOfGrowingTheHeap() throws Exception {
        int lines = 250_000; // ~40 MiB of replies (each ~160 bytes), 2.5 times the 16 MiB mark
        Process p = startWithJvmFlags(List.of("-Xmx64m", "-XX:+UseSerialGC"));
        Thread stderrDrain = new Thread(() -> {
            try {
                stderr.append(new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException ignored) {
                // the process is gone
            }
        });
        stderrDrain.start();
        AtomicLong linesWritten = new AtomicLong();
        AtomicLong inputBytes = new AtomicLong();
        CountDownLatch inputDone = new CountDownLatch(1);
        Thread writer = new Thread(() -> {
            try (OutputStream in = new BufferedOutputStream(p.getOutputStream(), 64 * 1024)) {
                for (int i = 0; i < lines; i++) {
                    byte[] line = ("{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":" + i + "}}\n")
                            .getBytes(StandardCharsets.UTF_8);
                    in.write(line);
                    inputBytes.addAndGet(line.length);
                    linesWritten.incrementAndGet();
                }
            } catch (IOException ignored) {
                // the process died: the reply count below says so
            } finally {
                inputDone.countDown();
            }
        });
        writer.start();

        // Stdout is not read until the writer has made no progress for 2 s (or wrote everything).
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        long seen = -1;
        long sameSince = System.nanoTime();
        while (!inputDone.await(100, TimeUnit.MILLISECONDS) && System.nanoTime() < deadline) {
            long now = linesWritten.get();
            if (now != seen) {
                seen = now;
                sameSince = System.nanoTime();
            } else if (System.nanoTime() - sameSince > TimeUnit.SECONDS.toNanos(2)) {
                break;
            }
        }
        long writtenBeforeReading = linesWritten.get();
        assertTrue(writtenBeforeReading < lines, "stdin was read to its end while stdout was not read");

        BufferedReader out = stdout(p);
        int replies = 0;
        long replyBytes = 0;
        String line;
        while ((line = out.readLine()) != null) {
            assertTrue(line.contains("\"in_reply_to\":" + replies + ","), "reply " + replies + " in order: " + line);
            replies++;
            replyBytes += line.length() + 1;
        }
        assertEquals(0, exitCode(p));
        stderrDrain.join(5_000);
        assertEquals(lines, replies, "every line answered; stderr:\n" + stderr);
        // Where the writer stopped: 16 MiB of waiting replies, plus the node's 1 MiB of unread input and the
        // pipes' and buffers' 64 KiB each, with 10 % to spare (the line and reply sizes are averages).
        double avgReply = (double) replyBytes / replies;
        double avgLine = (double) inputBytes.get() / lines;
        long expectedAtMost = (long) (1.1 * (((16 << 20) + (64 << 10)) / avgReply + ((1 << 20) + 3 * (64 << 10)) / avgLine));
        assertTrue(writtenBeforeReading <= expectedAtMost,
                "stdin stopped being read after " + writtenBeforeReading + " lines, expected at most " + expectedAtMost);
        assertFalse(stderr.toString().contains("OutOfMemoryError"), stderr.toString());
        assertTrue(inputDone.await(5, TimeUnit.SECONDS));
    }

    @Test
    void nameAndRegistryFlags(@TempDir Path dir) throws Exception {
        Path registry = dir.resolve("registry.json");
        Files.writeString(registry, "{\"services\":{\"service-z\":[{\"host\":\"127.0.0.1\",\"port\":9}]}}");
        Process p = start("--name", "edge", "--registry", registry.toString());
        send(p, "{\"src\":\"service-a\",\"dest\":\"service-z\",\"body\":{\"type\":\"call\",\"msg_id\":1}}");
        send(p, "{\"src\":\"s\",\"dest\":\"r\",\"body\":{\"type\":\"discover\",\"msg_id\":2,\"service\":\"service-z\"}}");
        p.getOutputStream().close();
        BufferedReader out = stdout(p);
        assertReply("{\"src\":\"service-z\",\"dest\":\"service-a\",\"body\":{\"type\":\"proxied\",\"in_reply_to\":1,\"proxied_by\":\"edge\",\"trace_id\":\"<uuid>\"}}",
                out.readLine());
        assertEquals("{\"src\":\"r\",\"dest\":\"s\",\"body\":{\"type\":\"discovered\",\"in_reply_to\":2,\"service\":\"service-z\","
                + "\"instances\":[{\"host\":\"127.0.0.1\",\"port\":9}]}}", out.readLine());
        assertEquals(0, exitCode(p));
    }

    @Test
    void missingRegistryFileIsAOneLineError() throws Exception {
        Process p = start("--registry", "does-not-exist" + File.separator + "registry.json");
        p.getOutputStream().close();
        assertEquals(1, exitCode(p));
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(1, err.lines().count(), err);
        assertTrue(err.startsWith("outrigger: registry file does-not-exist"), err);
        assertEquals(-1, p.getInputStream().read(), "nothing on stdout");
    }

    /**
     * Whatever is wrong with the {@code --registry} file (missing, a directory, not JSON, wrong content), the
     * error is one line of one shape: {@code outrigger: registry file PATH: what is wrong ...}, exit code 1.
     */
    @Test
    void everyRegistryFileErrorIsOneLineOfOneShape(@TempDir Path dir) throws Exception {
        Path missing = dir.resolve("missing.json");
        Path notJson = Files.writeString(dir.resolve("not-json.json"), "{services");
        Path noServices = Files.writeString(dir.resolve("no-services.json"), "{}");
        Path badEntry = Files.writeString(dir.resolve("bad-entry.json"), "{\"services\":{\"s\":[{\"host\":\"h\"}]}}");
        Map<Path, String> expected = new LinkedHashMap<>();
        expected.put(missing, "not found");
        expected.put(dir, "is a directory (expected: a JSON file)");
        expected.put(notJson, "not valid JSON at line 1, column 2 (");
        expected.put(noServices, "services: missing (expected: an object of service name to instance list)");
        expected.put(badEntry, "services.s[0]: {\"host\":\"h\"} (expected: {\"host\": string, \"port\": integer})");
        for (Map.Entry<Path, String> c : expected.entrySet()) {
            Process p = start("--registry", c.getKey().toString());
            p.getOutputStream().close();
            assertEquals(1, exitCode(p), c.getKey().toString());
            String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(1, err.lines().count(), err);
            assertTrue(err.startsWith("outrigger: registry file " + c.getKey() + ": " + c.getValue()), err);
            assertEquals(-1, p.getInputStream().read(), "nothing on stdout");
        }
    }
}

package io.outrigger.it.harness;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The process harness against a real child JVM ({@link TinyServer}) on loopback. */
class ManagedProcessTest {
    private final ProcessGroup group = new ProcessGroup();
    private final Path logDir = ProjectLayout.current().logDir().resolve("harness");

    @AfterEach
    void stopAll() {
        group.close();
    }

    private ManagedProcess tiny(String name, int port, String mode) throws URISyntaxException {
        String classes = Path.of(TinyServer.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        return group.add(ManagedProcess.startJava(name, List.of("-cp", classes, TinyServer.class.getName(),
                String.valueOf(port), mode), Map.of(), logDir));
    }

    @Test
    void startsAwaitsReadinessCapturesOutputAndStopsWithSigterm() throws Exception {
        int port = FreePorts.next();
        ManagedProcess p = tiny("tiny-serve", port, "serve");
        Http http = Http.direct();
        p.awaitReady("GET /health", Duration.ofSeconds(20), () -> http.isOk(URI.create("http://127.0.0.1:" + port + "/health")));
        assertTrue(p.isAlive());
        assertTrue(ManagedProcess.alive().contains(p));

        int exit = p.stop(Duration.ofSeconds(10));
        assertEquals(143, exit, "SIGTERM ends a JVM with 128 + 15");
        assertFalse(p.isAlive());
        String log = Files.readString(p.logFile());
        assertTrue(log.contains("TinyServer " + port + " serve"), "the log starts with the command line: " + log);
        assertTrue(log.contains("tiny-server: listening on"), "the process's stdout is captured: " + log);
    }

    @Test
    void aProcessThatDiesBeforeItIsReadyFailsTheWaitAtOnceWithItsLog() throws Exception {
        ManagedProcess p = tiny("tiny-crash", FreePorts.next(), "crash");
        long start = System.nanoTime();
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> p.awaitReady("GET /health", Duration.ofSeconds(30), () -> false));
        assertTrue(Duration.ofNanos(System.nanoTime() - start).toSeconds() < 15, "did not wait for the deadline");
        assertTrue(e.getMessage().contains("exited with code 3"), e.getMessage());
        assertTrue(e.getMessage().contains("asked to crash"), "the message carries the log's tail: " + e.getMessage());
    }

    @Test
    void aProcessStartedAgainUnderItsNameKeepsThePreviousLog() throws Exception {
        ManagedProcess first = tiny("tiny-again", FreePorts.next(), "crash");
        assertEquals(Optional.of(3), first.awaitExit(Duration.ofSeconds(20)));
        int port = FreePorts.next();
        ManagedProcess second = tiny("tiny-again", port, "crash");
        assertEquals(Optional.of(3), second.awaitExit(Duration.ofSeconds(20)));

        assertNotEquals(first.logFile(), second.logFile());
        assertEquals("tiny-again-2.log", second.logFile().getFileName().toString());
        String before = Files.readString(first.logFile());
        assertTrue(before.contains("asked to crash") && !before.contains(String.valueOf(port)), "the first log is intact: " + before);
        assertTrue(Files.readString(second.logFile()).contains("TinyServer " + port + " crash"));
    }

    @Test
    void stopEscalatesToSigkillWhenSigtermIsNotEnough() throws Exception {
        int port = FreePorts.next();
        ManagedProcess p = tiny("tiny-stubborn", port, "ignore-term");
        Http http = Http.direct();
        p.awaitReady("GET /health", Duration.ofSeconds(20), () -> http.isOk(URI.create("http://127.0.0.1:" + port + "/health")));

        int exit = p.stop(Duration.ofMillis(500));
        assertEquals(137, exit, "killed with SIGKILL (128 + 9) after the grace period");
        assertFalse(p.isAlive());
    }

    @Test
    void closingTheGroupLeavesNoProcessBehind() throws Exception {
        List<ManagedProcess> started = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            started.add(tiny("tiny-group-" + i, FreePorts.next(), "serve"));
        }
        group.close();
        for (ManagedProcess p : started) {
            assertFalse(p.isAlive(), p + " still running");
            assertFalse(ManagedProcess.alive().contains(p));
        }
    }

    @Test
    void freePortsAreNeverHandedOutTwice() {
        Set<Integer> ports = new HashSet<>();
        for (int i = 0; i < 200; i++) {
            assertTrue(ports.add(FreePorts.next()), "port handed out twice");
        }
    }

    /**
     * A port of the kernel's ephemeral range, freed again, can go to any bind to port 0 or any outgoing
     * connection on the machine before the process meant to bind it does; the ports come from below it.
     */
    @Test
    @EnabledOnOs(OS.LINUX)
    void freePortsAreDrawnBelowTheEphemeralRange() {
        int ephemeralLow = FreePorts.ephemeralLow(Path.of("/proc/sys/net/ipv4/ip_local_port_range"));
        assumeTrue(ephemeralLow - FreePorts.LOWEST >= 1_000, "no room below the ephemeral range " + ephemeralLow);
        for (int i = 0; i < 50; i++) {
            int port = FreePorts.next();
            assertTrue(port >= FreePorts.LOWEST && port < ephemeralLow, port + " is not below the ephemeral range (from " + ephemeralLow + ")");
        }
    }

    @Test
    void theEphemeralRangeIsReadFromTheKernelsFile(@TempDir Path dir) throws Exception {
        assertEquals(40000, FreePorts.ephemeralLow(Files.writeString(dir.resolve("range"), "40000\t60999\n")));
        assertEquals(32768, FreePorts.ephemeralLow(dir.resolve("missing")), "Linux's default when unreadable");
    }

    /**
     * A JVM started by nohup (or as a script's background job) inherits SIGHUP (and SIGINT) ignored, hands that on to
     * every child, and a child JVM leaves it ignored: a test's kill -HUP to a sidecar did nothing there. Components get
     * the three signals the tests send back at their default. Checked under a parent shell that ignores them.
     */
    @Test
    @EnabledOnOs(OS.LINUX)
    void componentsGetSighupSigintAndSigtermAtTheirDefaultEvenWhenThisJvmIgnoresThem() throws Exception {
        assumeTrue(ManagedProcess.restoresSignals("env"), "this machine's env has no --default-signal");
        List<String> probe = List.of("sh", "-c", "grep SigIgn /proc/self/status");
        assertEquals(probe, ManagedProcess.withDefaultSignals(probe, 0), "nothing ignored: the command as given");
        long hupIntTerm = 1L | 1L << 1 | 1L << 14;
        assertEquals(hupIntTerm, ignoredUnderAnIgnoringParent(probe) & hupIntTerm, "the parent shell ignores them (nohup's case)");
        assertEquals(0, ignoredUnderAnIgnoringParent(ManagedProcess.withDefaultSignals(probe, 1)) & hupIntTerm,
                "restored in the component");
    }

    /**
     * Where env has no --default-signal (busybox, coreutils before 8.31), a component under a JVM that ignores the
     * signals still starts, as it did before they were restored: wrapped, the env refused the option and nothing ran.
     */
    @Test
    @EnabledOnOs(OS.LINUX)
    void componentsStillStartWhereEnvHasNoDefaultSignalOption(@TempDir Path dir) throws Exception {
        Path env = dir.resolve("busybox-env");
        Files.writeString(env, "#!/bin/sh\n"
                + "case \"$1\" in --default-signal*) echo \"env: unrecognized option: $1\" >&2; exit 1;; esac\n"
                + "exec env \"$@\"\n");
        assertTrue(env.toFile().setExecutable(true));
        List<String> probe = List.of("sh", "-c", "grep SigIgn /proc/self/status");
        long hupIntTerm = 1L | 1L << 1 | 1L << 14;
        // Fails (env's exit 1 and its complaint) unless the component ran.
        ignoredUnderAnIgnoringParent(ManagedProcess.withDefaultSignals(probe, hupIntTerm, env.toString()));
        assertFalse(ManagedProcess.restoresSignals(env.toString()));
    }

    /** The SigIgn mask {@code command} sees when started by a shell that ignores SIGHUP, SIGINT and SIGTERM. */
    private static long ignoredUnderAnIgnoringParent(List<String> command) throws Exception {
        List<String> full = new ArrayList<>(List.of("sh", "-c", "trap '' HUP INT TERM; exec \"$@\"", "sh"));
        full.addAll(command);
        Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII).trim();
        assertEquals(0, p.waitFor(), out);
        assertTrue(out.startsWith("SigIgn:"), out);
        return Long.parseUnsignedLong(out.substring("SigIgn:".length()).trim(), 16);
    }

    @Test
    void pollerReturnsTheValueOrTimesOutNamingTheCondition() {
        long start = System.nanoTime();
        assertEquals("x", Poller.await("x", Duration.ofSeconds(5), Duration.ofMillis(10),
                () -> System.nanoTime() - start > 50_000_000 ? Optional.of("x") : Optional.empty()));
        Poller.ConditionTimeoutException e = assertThrows(Poller.ConditionTimeoutException.class,
                () -> Poller.awaitTrue("the impossible", Duration.ofMillis(100), Duration.ofMillis(10), () -> false));
        assertTrue(e.getMessage().contains("the impossible"), e.getMessage());
    }
}

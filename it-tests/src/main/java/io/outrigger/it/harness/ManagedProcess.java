package io.outrigger.it.harness;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One component running as its own JVM, its stdout and stderr captured to {@code <logDir>/<name>.log}.
 *
 * <p>{@link #stop(Duration)} sends SIGTERM and escalates to SIGKILL after the grace period;
 * {@link #kill()} is SIGKILL at once (a crash). Every process still alive when the JVM exits
 * (normally, on Ctrl-C or SIGTERM) is killed by a shutdown hook, so none is left behind.
 * Thread-safe.
 */
public final class ManagedProcess {
    /**
     * JVM flags for every component: small heaps and quick start-up, since seven JVMs share two cores; and this JVM's
     * {@code -Doutrigger.transport} when it has one, so that {@code mvn verify -Doutrigger.transport=epoll} runs the
     * sidecars the tests start on epoll too, not only the in-process tests.
     */
    public static final List<String> COMPONENT_JVM_FLAGS = componentJvmFlags(System.getProperty("outrigger.transport", ""));

    static List<String> componentJvmFlags(String transport) {
        List<String> flags = new ArrayList<>(List.of("-Xms32m", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-XX:-UsePerfData"));
        if (!transport.isBlank()) {
            flags.add("-Doutrigger.transport=" + transport.trim());
        }
        return List.copyOf(flags);
    }

    private static final Set<ManagedProcess> alive = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(ManagedProcess::killAllAlive, "it-process-reaper"));
    }

    private final String name;
    private final Process process;
    private final Path logFile;

    private ManagedProcess(String name, Process process, Path logFile) {
        this.name = name;
        this.process = process;
        this.logFile = logFile;
    }

    /**
     * Starts {@code java <COMPONENT_JVM_FLAGS> <javaArgs>} (for example {@code -jar X.jar run --config F}).
     *
     * @param env extra environment variables (e.g. {@code HTTP_PROXY})
     */
    public static ManagedProcess startJava(String name, List<String> javaArgs, Map<String, String> env, Path logDir) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(COMPONENT_JVM_FLAGS);
        command.addAll(javaArgs);
        return start(name, command, env, logDir);
    }

    /**
     * Starts the sidecar ({@code java <jvmFlags> -jar proxyJar run --config config}) and waits until
     * {@code GET /ready} on its admin port answers 200; kills it if that does not happen in {@code timeout}.
     */
    public static ManagedProcess startSidecar(String name, Path proxyJar, List<String> jvmFlags, Path config, int adminPort,
                                              Path logDir, Duration timeout) {
        List<String> args = new ArrayList<>(jvmFlags);
        args.addAll(List.of("-jar", proxyJar.toString(), "run", "--config", config.toString()));
        ManagedProcess sidecar = startJava(name, args, Map.of(), logDir);
        Http http = Http.direct();
        URI ready = URI.create("http://127.0.0.1:" + adminPort + "/ready");
        try {
            sidecar.awaitReady("/ready 200", timeout, () -> http.isOk(ready));
        } catch (RuntimeException | Error e) {
            sidecar.kill();
            throw e;
        }
        return sidecar;
    }

    /**
     * Starts any command; its output (both streams) goes to {@code <logDir>/<name>.log}, or to {@code <name>-2.log},
     * {@code <name>-3.log}, ... when this JVM started a process of that name before (a restarted instance keeps its
     * predecessor's log intact). SIGHUP, SIGINT and SIGTERM have their default action in it even when this JVM inherited them
     * ignored (see {@link #withDefaultSignals}).
     */
    public static ManagedProcess start(String name, List<String> command, Map<String, String> env, Path logDir) {
        command = withDefaultSignals(command, ignoredSignalsOfThisProcess());
        try {
            Files.createDirectories(logDir);
            Path log = freshLog(logDir, name);
            Files.writeString(log, "$ " + String.join(" ", command) + System.lineSeparator(), StandardCharsets.UTF_8);
            ProcessBuilder pb = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
            pb.environment().putAll(env);
            Process p = pb.start();
            p.getOutputStream().close(); // no component reads standard input here: give it EOF
            ManagedProcess mp = new ManagedProcess(name, p, log);
            alive.add(mp);
            p.onExit().thenRun(() -> alive.remove(mp));
            return mp;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + name + ": " + e.getMessage(), e);
        }
    }

    /** How many processes of each log path's name this JVM started: an earlier run's logs are overwritten, not kept. */
    private static final Map<Path, Integer> starts = new ConcurrentHashMap<>();

    private static Path freshLog(Path logDir, String name) {
        int n = starts.merge(logDir.resolve(name).toAbsolutePath().normalize(), 1, Integer::sum);
        return logDir.resolve(n == 1 ? name + ".log" : name + "-" + n + ".log");
    }

    /** The signals the tests send to components: SIGHUP (1), SIGINT (2) and SIGTERM (15), as bits of a SigIgn mask. */
    private static final long SIGNALS_SENT = 1L | 1L << 1 | 1L << 14;

    /**
     * {@code command}, run through {@code env --default-signal=HUP,INT,TERM} when {@code ignoredMask} (the {@code SigIgn}
     * mask of /proc/self/status) has any of those signals ignored. A signal ignored in this JVM (started by nohup, as a
     * background job of a script, by a CI agent that ignores hang-ups) stays ignored across exec, and a JVM leaves an
     * ignored SIGHUP, SIGINT or SIGTERM ignored: a component's kill -HUP then did nothing (HangupAccessLogTest waited in
     * vain for the exit). Unchanged otherwise, so no GNU env is needed where nothing is ignored; unchanged too where
     * {@code env} has no {@code --default-signal} (busybox, coreutils before 8.31): wrapped, no component would start
     * at all, where unwrapped only the tests that signal a component fail.
     */
    static List<String> withDefaultSignals(List<String> command, long ignoredMask) {
        return withDefaultSignals(command, ignoredMask, "env");
    }

    /** As {@link #withDefaultSignals(List, long)}, with {@code env} as the program that restores the signals. */
    static List<String> withDefaultSignals(List<String> command, long ignoredMask, String env) {
        if ((ignoredMask & SIGNALS_SENT) == 0 || !restoresSignals(env)) {
            return command;
        }
        List<String> wrapped = new ArrayList<>(List.of(env, DEFAULT_SIGNAL_OPTION));
        wrapped.addAll(command);
        return wrapped;
    }

    private static final String DEFAULT_SIGNAL_OPTION = "--default-signal=HUP,INT,TERM";
    /** Per env program: whether it takes {@value #DEFAULT_SIGNAL_OPTION}; asked once. */
    private static final Map<String, Boolean> RESTORES_SIGNALS = new ConcurrentHashMap<>();

    /** Whether {@code env} runs a command with {@value #DEFAULT_SIGNAL_OPTION} (GNU coreutils 8.31 and later). */
    static boolean restoresSignals(String env) {
        return RESTORES_SIGNALS.computeIfAbsent(env, e -> {
            try {
                Process p = new ProcessBuilder(e, DEFAULT_SIGNAL_OPTION, "true").redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
                p.getOutputStream().close();
                if (!p.waitFor(10, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    return false;
                }
                return p.exitValue() == 0;
            } catch (IOException ex) {
                return false;
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                return false;
            }
        });
    }

    /** The {@code SigIgn} mask of this process, or 0 where /proc/self/status does not say (not Linux). */
    static long ignoredSignalsOfThisProcess() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"), StandardCharsets.US_ASCII)) {
                if (line.startsWith("SigIgn:")) {
                    return Long.parseUnsignedLong(line.substring("SigIgn:".length()).trim(), 16);
                }
            }
        } catch (IOException | RuntimeException e) {
            // no /proc: nothing known to restore
        }
        return 0;
    }

    public String name() {
        return name;
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    public Path logFile() {
        return logFile;
    }

    /**
     * Waits until {@code check} holds (for example "GET /ready answers 200"), failing at once
     * with the log's tail if the process exits first.
     */
    public void awaitReady(String what, Duration timeout, Callable<Boolean> check) {
        Poller.awaitTrue(name + " " + what, timeout, Duration.ofMillis(50), () -> {
            if (!process.isAlive()) {
                throw new IllegalStateException(name + " exited with code " + process.exitValue()
                        + " before it was ready; last lines of " + logFile + ":\n" + logTail(15));
            }
            return check.call();
        });
    }

    /**
     * Graceful stop: SIGTERM, then SIGKILL if still running after {@code grace}.
     *
     * @return the exit code
     */
    public int stop(Duration grace) {
        process.destroy();
        return awaitExit(grace).orElseGet(this::kill);
    }

    /** SIGKILL, as a crash would; returns the exit code. */
    public int kill() {
        process.destroyForcibly();
        return awaitExit(Duration.ofSeconds(10)).orElseThrow(() -> new IllegalStateException(name + " survived SIGKILL"));
    }

    /** Sends SIGTERM without waiting (use with {@link #awaitExit}). */
    public void terminate() {
        process.destroy();
    }

    /** Waits up to {@code timeout} for the process to exit; the exit code, or empty if it is still running. */
    public Optional<Integer> awaitExit(Duration timeout) {
        try {
            return Optional.of(process.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS).exitValue());
        } catch (TimeoutException e) {
            return Optional.empty();
        } catch (ExecutionException e) {
            throw new IllegalStateException(name + ": " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    /** The last {@code lines} lines of this process's log. */
    public String logTail(int lines) {
        try {
            List<String> all = Files.readAllLines(logFile, StandardCharsets.UTF_8);
            return String.join(System.lineSeparator(), all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(cannot read " + logFile + ": " + e.getMessage() + ")";
        }
    }

    /**
     * The processes started by this JVM that are still running. An exited process leaves the set
     * from an {@code onExit} callback that may not have run yet when its exit is seen elsewhere, so
     * the answer is filtered by the process's own state too.
     */
    public static Set<ManagedProcess> alive() {
        alive.removeIf(p -> !p.process.isAlive());
        return Set.copyOf(alive);
    }

    private static void killAllAlive() {
        for (ManagedProcess p : alive) {
            p.process.descendants().forEach(ProcessHandle::destroyForcibly);
            p.process.destroyForcibly();
        }
    }

    @Override
    public String toString() {
        return name + " (pid " + pid() + ")";
    }
}

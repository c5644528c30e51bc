package io.outrigger.demo;

import io.outrigger.it.harness.LoopbackTopology;
import io.outrigger.it.harness.ProjectLayout;
import io.outrigger.it.scenario.BreakerScenario;
import io.outrigger.it.scenario.FailoverScenario;
import io.outrigger.it.scenario.SidecarAdmin;
import io.outrigger.it.scenario.Timeline;
import io.outrigger.it.scenario.TraceScenario;
import io.outrigger.it.scenario.Traffic;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * The two-service demo: starts the registry stub, service-a, two service-b instances and a
 * sidecar beside each on 127.0.0.1, drives the three scenarios (one trace across the hops; a
 * failing service-b behind an opening and closing breaker; a killed instance routed around),
 * prints a timeline and a summary table, and stops everything.
 *
 * <p>Exit code 0 when every scenario saw what it expected, 1 otherwise (the message names the
 * step; each component's log is under {@code it-tests/target/it-logs/}), 2 on a usage error.
 */
@Command(name = "outrigger-demo", mixinStandardHelpOptions = true, versionProvider = DemoMain.Version.class,
        description = "Runs the two-service Outrigger demo on 127.0.0.1 and prints what happens.")
public final class DemoMain implements Callable<Integer> {

    @Option(names = "--root", paramLabel = "DIR", description = "Project root holding proxy/target and registry-stub/target (default: the working directory).")
    Path root = Path.of("");

    @Option(names = "--keep-running", description = "Keep the topology up after the scenarios and print curl commands to try; Ctrl-C stops it.")
    boolean keepRunning;

    private final PrintStream out;

    public DemoMain() {
        this(System.out);
    }

    /** @param out where the timeline and the summary go */
    DemoMain(PrintStream out) {
        this.out = out;
    }

    public static void main(String[] args) {
        System.exit(commandLine(new DemoMain()).execute(args)); // the demo's entry point owns its exit code
    }

    /**
     * The demo's command line with the project's usage-error contract (interfaces.md): one line on stderr
     * naming {@code --help}, exit code 2, rather than picocli's default of the reason plus the whole usage.
     */
    static CommandLine commandLine(DemoMain demo) {
        CommandLine cl = new CommandLine(demo);
        cl.setParameterExceptionHandler((ex, args) -> {
            ex.getCommandLine().getErr().println("outrigger-demo: " + ex.getMessage() + " (see 'outrigger-demo --help')");
            return CommandLine.ExitCode.USAGE;
        });
        return cl;
    }

    @Override
    public Integer call() throws InterruptedException {
        ProjectLayout layout = new ProjectLayout(root.toAbsolutePath().normalize());
        try {
            layout.requireJars();
        } catch (IllegalStateException e) {
            out.println("outrigger-demo: " + e.getMessage());
            return 1;
        }
        Timeline timeline = new Timeline(out);
        Traffic traffic = new Traffic();
        timeline.section("Starting the mesh on 127.0.0.1 (logs: " + shown(layout.logDir()) + ")");
        LoopbackTopology topology;
        try {
            topology = LoopbackTopology.start(layout, "demo", step -> timeline.event("%s", step));
        } catch (RuntimeException e) {
            out.println("outrigger-demo: the mesh did not start: " + e.getMessage());
            return 1;
        }
        Thread stopOnCtrlC = new Thread(topology::close, "demo-stop");
        Runtime.getRuntime().addShutdownHook(stopOnCtrlC);
        try {
            topology.describe().forEach(line -> timeline.print("  " + line));
            List<String> problems = runScenarios(topology, timeline, traffic);
            printSummary(topology, traffic);
            if (!problems.isEmpty()) {
                out.println();
                problems.forEach(p -> out.println("FAILED: " + p));
                out.println("Each component's log is in " + shown(layout.logDir()));
                return 1;
            }
            if (keepRunning) {
                printTryThis(topology);
                new CountDownLatch(1).await(); // until Ctrl-C: the shutdown hook stops the mesh
            }
            out.println();
            out.println("All three scenarios behaved as expected; stopping the mesh.");
            return 0;
        } finally {
            topology.close();
            try {
                Runtime.getRuntime().removeShutdownHook(stopOnCtrlC);
            } catch (IllegalStateException e) {
                // already shutting down: the hook is running and closes the topology itself
            }
        }
    }

    /** A path relative to the working directory when it lies below it (shorter to read), else absolute. */
    private static Path shown(Path path) {
        Path cwd = Path.of("").toAbsolutePath();
        return path.startsWith(cwd) ? cwd.relativize(path) : path;
    }

    /** Runs the scenarios in order, each one even if an earlier one failed; returns what went wrong. */
    private static List<String> runScenarios(LoopbackTopology topology, Timeline timeline, Traffic traffic) {
        List<String> problems = new ArrayList<>();
        try {
            TraceScenario.Result trace = TraceScenario.run(topology, timeline, traffic);
            if (trace.status() != 200) {
                problems.add("scenario 1: service-a answered " + trace.status() + " (expected 200): " + trace.body());
            } else if (trace.hops().isEmpty() || trace.hops().stream().anyMatch(h -> !h.traceId().equals(trace.traceId()))) {
                problems.add("scenario 1: not every hop saw trace " + trace.traceId() + ": " + trace.hops());
            }
        } catch (RuntimeException e) {
            problems.add("scenario 1: " + e.getMessage());
        }
        try {
            BreakerScenario.run(topology, timeline, traffic);
        } catch (RuntimeException e) {
            problems.add("scenario 2: " + e.getMessage());
        }
        try {
            FailoverScenario.run(topology, timeline, traffic);
        } catch (RuntimeException e) {
            problems.add("scenario 3: " + e.getMessage());
        }
        return problems;
    }

    private void printSummary(LoopbackTopology topology, Traffic traffic) {
        out.println();
        out.println("== Summary (requests sent by the driver)");
        out.printf(Locale.ROOT, "%-12s %9s %9s %10s %10s%n", "service", "requests", "success", "p50", "p99");
        for (Traffic.Stats s : traffic.stats()) {
            out.printf(Locale.ROOT, "%-12s %9d %8.1f%% %7.1f ms %7.1f ms%n", s.service(), s.requests(), 100 * s.successRate(),
                    s.p50().toNanos() / 1e6, s.p99().toNanos() / 1e6);
        }
        try {
            SidecarAdmin admin = new SidecarAdmin(topology.sidecarAAdmin());
            Map<String, Integer> transitions = admin.breakerTransitions("service-b");
            out.println("Breaker transitions at sidecar-a (from its /metrics):");
            if (transitions.isEmpty()) {
                out.println("  none");
            }
            transitions.forEach((k, v) -> out.printf(Locale.ROOT, "  %-52s %d%n", k, v));
            out.printf(Locale.ROOT, "Retries by sidecar-a to service-b: %d%n", (long) admin.counter("outrigger_retries_total", "service-b"));
        } catch (IOException e) {
            out.println("sidecar-a /metrics unreadable: " + e.getMessage());
        }
    }

    private void printTryThis(LoopbackTopology topology) {
        String a = topology.serviceA().toString();
        String admin = topology.sidecarAAdmin().toString();
        out.println();
        out.println("== The mesh keeps running (--keep-running); try (Ctrl-C stops everything):");
        out.println("  curl -s " + a + "/call/service-b/hello                  # outside -> service-a -> service-b");
        out.println("  curl -s -x http://127.0.0.1:" + topology.sidecarAOutboundPort() + " http://service-b/hello   # as service-a's app");
        out.println("  curl -s " + admin + "/clusters                            # instances, health, breakers");
        out.println("  curl -s " + admin + "/metrics | grep outrigger_");
        out.println("  curl -s http://127.0.0.1:" + topology.registryPort() + "/v1/health/service/service-b");
        out.println("  curl -s -X POST '" + topology.serviceBControl().get(1) + "/admin/fail?rate=0.5'   # service-b's live instance fails half its requests");
        out.println("  (service-b's first instance, " + topology.serviceBControl().get(0) + ", was killed in scenario 3)");
    }

    /** The version from the jar's manifest (the build's), or "dev" when run from classes, as the other commands say it. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = DemoMain.class.getPackage().getImplementationVersion();
            return new String[] {"outrigger-demo " + (v == null ? "dev" : v)};
        }
    }
}

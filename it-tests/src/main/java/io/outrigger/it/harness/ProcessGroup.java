package io.outrigger.it.harness;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The processes of one topology, stopped together: SIGTERM to all at once, then SIGKILL to any
 * still running after the grace period. Not thread-safe: one owner starts and closes it.
 */
public final class ProcessGroup implements AutoCloseable {
    /** How long a component may take to stop after SIGTERM (default 5 s) before it is killed. */
    public static final Duration STOP_GRACE = Duration.ofSeconds(5);

    private final List<ManagedProcess> processes = new ArrayList<>();

    public ManagedProcess add(ManagedProcess p) {
        processes.add(p);
        return p;
    }

    /** Stops every process (SIGTERM to all, then waits, then SIGKILL the stragglers). Idempotent. */
    @Override
    public void close() {
        processes.forEach(ManagedProcess::terminate);
        long deadline = System.nanoTime() + STOP_GRACE.toNanos();
        for (ManagedProcess p : processes) {
            Duration left = Duration.ofNanos(Math.max(0, deadline - System.nanoTime()));
            if (p.awaitExit(left).isEmpty()) {
                p.kill();
            }
        }
        processes.clear();
    }
}

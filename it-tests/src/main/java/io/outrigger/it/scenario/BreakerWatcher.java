package io.outrigger.it.scenario;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Polls a sidecar's {@code /clusters} every 20 ms while a scenario runs and puts each breaker
 * state change of one service (its service breaker and its instances' breakers) on the timeline.
 * A state held for less than a poll may be missed: the sidecar's own transition counters
 * ({@link SidecarAdmin#breakerTransitions}) are the exact record. Thread-safe.
 */
public final class BreakerWatcher implements AutoCloseable {
    private final SidecarAdmin admin;
    private final String service;
    private final Timeline timeline;
    private final Map<String, String> last = new HashMap<>();
    private final List<String> seen = new ArrayList<>();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "breaker-watcher");
        t.setDaemon(true);
        return t;
    });

    public BreakerWatcher(SidecarAdmin admin, String service, Timeline timeline) {
        this.admin = admin;
        this.service = service;
        this.timeline = timeline;
        timer.scheduleWithFixedDelay(this::poll, 0, 20, TimeUnit.MILLISECONDS);
    }

    private void poll() {
        try {
            admin.serviceBreaker(service).ifPresent(b -> note(service + " (service breaker)", b));
            admin.instanceBreakers(service).forEach((address, b) -> note(service + " @ " + address, b));
        } catch (IOException e) {
            note("sidecar-a /clusters", new SidecarAdmin.Breaker("unreadable", e.toString()));
        }
    }

    private synchronized void note(String who, SidecarAdmin.Breaker b) {
        String before = last.put(who, b.state());
        if (before != null && !before.equals(b.state())) {
            seen.add(who + ": " + before + " -> " + b.state());
            timeline.event("  /clusters: %s breaker %s -> %s (%s)", who, before, b.state(), b.reason());
        }
    }

    /** Every change seen so far, as {@code "who: from -> to"}. */
    public synchronized List<String> changes() {
        return List.copyOf(seen);
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}

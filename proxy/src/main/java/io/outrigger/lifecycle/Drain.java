package io.outrigger.lifecycle;

import io.netty.util.concurrent.EventExecutor;
import io.outrigger.Sidecar;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The way out of a running sidecar, driven by one deadline ({@code drain_ms}, default 10000):
 * <pre>
 *   t = 0          /ready answers 503 (draining); every listener still accepts
 *   t = grace      inbound, tcp and jsonline stop accepting; open inbound connections answer their
 *                  request in flight with Connection: close and close, idle ones after 250 ms quiet;
 *                  live tcp relays and jsonline sessions go on; admin and outbound stay open
 *   t = drain_ms   everything closes
 * </pre>
 * The grace ({@link #graceMillis(long)}: a quarter of {@code drain_ms}, at most one second) lets
 * callers that have not yet seen the 503 still get in. Outbound stays open to the end because the
 * app may still call out while it shuts down.
 *
 * <p>Thread-safe: {@link #begin()} from any thread (a signal handler), the steps run on one of the
 * sidecar's event loops and never block; {@link #awaitDeadlineAndClose()} blocks its caller.
 */
public final class Drain {
    private static final Logger log = LoggerFactory.getLogger(Drain.class);
    /** The longest grace before the listeners stop accepting. */
    public static final long MAX_GRACE_MILLIS = 1_000;

    private final Sidecar sidecar;
    private final long drainMillis;
    private final long graceMillis;
    private final EventExecutor timer;
    private final AtomicBoolean begun = new AtomicBoolean();
    private final CompletableFuture<Void> deadline = new CompletableFuture<>();
    private volatile long begunNanos;

    /** A drain of {@code sidecar} over {@code drainMillis} with the default grace, timed on one of its event loops. */
    public Drain(Sidecar sidecar, long drainMillis) {
        this(sidecar, drainMillis, graceMillis(drainMillis), sidecar.group().next());
    }

    /**
     * @param graceMillis how long the listeners keep accepting after the drain began; at most {@code drainMillis}
     * @param timer       runs the steps at their time
     */
    public Drain(Sidecar sidecar, long drainMillis, long graceMillis, EventExecutor timer) {
        if (drainMillis < 0 || graceMillis < 0 || graceMillis > drainMillis) {
            throw new IllegalArgumentException("drainMillis: " + drainMillis + ", graceMillis: " + graceMillis
                    + " (expected: 0 <= graceMillis <= drainMillis)");
        }
        this.sidecar = sidecar;
        this.drainMillis = drainMillis;
        this.graceMillis = graceMillis;
        this.timer = timer;
    }

    /** The default grace of a drain over {@code drainMillis}: a quarter of it, at most {@value #MAX_GRACE_MILLIS} ms. */
    public static long graceMillis(long drainMillis) {
        return Math.min(MAX_GRACE_MILLIS, drainMillis / 4);
    }

    /**
     * Starts the drain: {@code /ready} turns 503 at once and the later steps are scheduled.
     *
     * @return false when the drain had already begun (nothing changes: the first deadline holds)
     */
    public boolean begin() {
        return begin(null);
    }

    /**
     * {@link #begin()}, with what started the drain ({@code "SIGTERM received"}) logged first, so the log reads
     * in the order things happened.
     *
     * @param cause logged at INFO before the drain's own lines; null for none
     * @return false when the drain had already begun (nothing is logged, nothing changes)
     */
    public boolean begin(String cause) {
        if (!begun.compareAndSet(false, true)) {
            return false;
        }
        if (cause != null) {
            log.info("{}", cause);
        }
        begunNanos = sidecar.context().ticker().nanos();
        sidecar.beginDrain();
        log.info("draining: listeners stop accepting in {} ms, everything closes in {} ms", graceMillis, drainMillis);
        try {
            timer.schedule(sidecar::stopIntake, graceMillis, TimeUnit.MILLISECONDS);
            timer.schedule(() -> deadline.complete(null), drainMillis, TimeUnit.MILLISECONDS);
            // Should the timer stop first (the sidecar closed by other means), nobody waits for a deadline that cannot come.
            timer.terminationFuture().addListener(f -> deadline.complete(null));
        } catch (RejectedExecutionException e) {
            deadline.complete(null); // the sidecar is already closing
        }
        return true;
    }

    /** Milliseconds left until the deadline; {@code drain_ms} before the drain begins, 0 after the deadline. */
    public long remainingMillis() {
        if (!begun.get()) {
            return drainMillis;
        }
        long elapsed = TimeUnit.NANOSECONDS.toMillis(sidecar.context().ticker().nanos() - begunNanos);
        return Math.max(0, drainMillis - elapsed);
    }

    /** Blocks until the deadline of a begun drain, then closes the sidecar; never call it on an event loop. */
    public void awaitDeadlineAndClose() {
        try {
            deadline.join();
        } finally {
            sidecar.close();
        }
    }
}

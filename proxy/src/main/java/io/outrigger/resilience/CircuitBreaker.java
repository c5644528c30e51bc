package io.outrigger.resilience;

import io.outrigger.time.Ticker;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A lock-free circuit breaker: closed, open, half-open.
 *
 * <pre>
 *   CLOSED --(failureThreshold consecutive failures)--> OPEN
 *   OPEN   --(openMillis elapsed, next permission)----> HALF_OPEN (halfOpenProbes calls let through)
 *   HALF_OPEN --(a probe succeeds)--> CLOSED
 *   HALF_OPEN --(a probe fails)-----> OPEN
 * </pre>
 *
 * <p>The whole state is one immutable snapshot swapped by compare-and-set, so the breaker is
 * safe to share between event loops without locks. Time comes from the injected {@link Ticker}.
 * Callers ask {@link #acquirePermission()} before an attempt and report its outcome with
 * {@link #onSuccess()} or {@link #onFailure()}, or give the permit back with
 * {@link #releasePermission(long)} when the attempt ended with no verdict. Listeners run after a
 * transition took effect.
 */
public final class CircuitBreaker {
    private static final Logger log = LoggerFactory.getLogger(CircuitBreaker.class);

    /** The three states of a breaker. */
    public enum State {
        CLOSED, OPEN, HALF_OPEN;

        /** The lower-case name used on the wire ({@code closed}, {@code open}, {@code half_open}). */
        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        /** Parses a wire name; returns null when it names no state. */
        public static State fromWireName(String name) {
            for (State s : values()) {
                if (s.wireName().equals(name)) {
                    return s;
                }
            }
            return null;
        }
    }

    /**
     * One immutable reading of the breaker.
     *
     * @param state               the state
     * @param consecutiveFailures failures since the last success (kept while open, for reporting)
     * @param sinceNanos          ticker time the state was entered (or probes were last granted)
     * @param probesLeft          probe permissions still available while half-open
     * @param probeRound          which batch of half-open probes was granted last (from 1; 0 before the first): a
     *                            probe given back counts only in its own round
     * @param reason              why the breaker is in this state
     */
    public record Snapshot(State state, int consecutiveFailures, long sinceNanos, int probesLeft, long probeRound, String reason) {}

    /** What {@link #acquirePermission()} answers when it refuses the call. */
    public static final long NO_PERMIT = -1;
    /** The permit of a call let through by a closed breaker: not a probe, nothing to give back. */
    private static final long CLOSED_PERMIT = 0;

    private final String name;
    private final CircuitBreakerConfig config;
    private final Ticker ticker;
    private final long openNanos;
    private final AtomicReference<Snapshot> ref;
    private final List<CircuitBreakerListener> listeners = new CopyOnWriteArrayList<>();

    public CircuitBreaker(String name, CircuitBreakerConfig config, Ticker ticker) {
        this.name = name;
        this.config = config;
        this.ticker = ticker;
        this.openNanos = TimeUnit.MILLISECONDS.toNanos(config.openMillis());
        this.ref = new AtomicReference<>(new Snapshot(State.CLOSED, 0, ticker.nanos(), 0, 0, "no failures"));
    }

    public String name() {
        return name;
    }

    public CircuitBreakerConfig config() {
        return config;
    }

    public void addListener(CircuitBreakerListener listener) {
        listeners.add(listener);
    }

    /** The current snapshot (an open breaker whose time is up still reads OPEN until a call asks). */
    public Snapshot snapshot() {
        return ref.get();
    }

    public State state() {
        return ref.get().state();
    }

    public int consecutiveFailures() {
        return ref.get().consecutiveFailures();
    }

    /**
     * Whether a call would be let through now, without taking a permission: closed, half-open
     * with probes left, or open with its open time elapsed. Load balancers use this to skip
     * instances whose breaker would reject.
     */
    public boolean isCallPermitted() {
        Snapshot s = ref.get();
        switch (s.state()) {
            case CLOSED:
                return true;
            case OPEN:
                return ticker.nanos() - s.sinceNanos() >= openNanos;
            default:
                return s.probesLeft() > 0 || ticker.nanos() - s.sinceNanos() >= openNanos;
        }
    }

    /** Takes a permission for one call; false when the breaker rejects it (fail fast). See {@link #acquirePermission()}. */
    public boolean tryAcquirePermission() {
        return acquirePermission() != NO_PERMIT;
    }

    /**
     * Takes a permission for one call and returns its permit, for {@link #releasePermission(long)}; or
     * {@link #NO_PERMIT} when the breaker rejects it (fail fast). An open breaker whose open time
     * elapsed moves to half-open and grants the first probe.
     */
    public long acquirePermission() {
        for (;;) {
            Snapshot s = ref.get();
            long now;
            switch (s.state()) {
                case CLOSED:
                    return CLOSED_PERMIT;
                case OPEN:
                    now = ticker.nanos();
                    if (now - s.sinceNanos() < openNanos) {
                        return NO_PERMIT;
                    }
                    Snapshot half = new Snapshot(State.HALF_OPEN, s.consecutiveFailures(), now,
                            config.halfOpenProbes() - 1, s.probeRound() + 1, "probing after " + config.openMillis() + " ms open");
                    if (ref.compareAndSet(s, half)) {
                        notifyListeners(s, half);
                        return half.probeRound();
                    }
                    break;
                default: // HALF_OPEN
                    if (s.probesLeft() > 0) {
                        if (ref.compareAndSet(s, withProbes(s, s.probesLeft() - 1))) {
                            return s.probeRound();
                        }
                        break;
                    }
                    now = ticker.nanos();
                    // A probe that never reported back must not wedge the breaker: re-grant after openMillis.
                    if (now - s.sinceNanos() < openNanos) {
                        return NO_PERMIT;
                    }
                    Snapshot regranted = new Snapshot(State.HALF_OPEN, s.consecutiveFailures(), now,
                            config.halfOpenProbes() - 1, s.probeRound() + 1, s.reason());
                    if (ref.compareAndSet(s, regranted)) {
                        return regranted.probeRound();
                    }
                    break;
            }
        }
    }

    /** Reports a successful call: resets the failure count; a half-open breaker closes. */
    public void onSuccess() {
        for (;;) {
            Snapshot s = ref.get();
            Snapshot next;
            switch (s.state()) {
                case CLOSED:
                    if (s.consecutiveFailures() == 0) {
                        return;
                    }
                    next = new Snapshot(State.CLOSED, 0, s.sinceNanos(), 0, s.probeRound(), "no failures");
                    break;
                case HALF_OPEN:
                    next = new Snapshot(State.CLOSED, 0, ticker.nanos(), 0, s.probeRound(), "half-open probe succeeded");
                    break;
                default: // OPEN: a late answer of a call admitted before the breaker opened
                    return;
            }
            if (ref.compareAndSet(s, next)) {
                if (next.state() != s.state()) {
                    notifyListeners(s, next);
                }
                return;
            }
        }
    }

    /** Whether {@code permit} ({@link #acquirePermission()}'s) is a half-open breaker's probe, not a closed breaker's pass. */
    public static boolean isProbe(long permit) {
        return permit > CLOSED_PERMIT;
    }

    /**
     * Gives back the permission {@code permit} of a call that ended with no verdict on the upstream (its
     * client went away first): a half-open breaker gets that probe back at once, rather than after
     * {@code open_ms}. Only a probe of the current round goes back: a call let through while the breaker
     * was closed, or a probe of an earlier round, was never one of the probes out now, and giving it back
     * would let more than {@code half_open_probes} through. Otherwise this changes nothing.
     */
    public void releasePermission(long permit) {
        for (;;) {
            Snapshot s = ref.get();
            if (s.state() != State.HALF_OPEN || permit != s.probeRound() || s.probesLeft() >= config.halfOpenProbes()) {
                return;
            }
            if (ref.compareAndSet(s, withProbes(s, s.probesLeft() + 1))) {
                return;
            }
        }
    }

    /**
     * Reports a failed call: counts toward the threshold; a failed half-open probe re-opens.
     *
     * @return true when this failure opened the breaker; false when it stayed closed, or was already open
     *         (opened by another caller since this one's permission: the failure is not counted)
     */
    public boolean onFailure() {
        for (;;) {
            Snapshot s = ref.get();
            Snapshot next;
            int failures = s.consecutiveFailures() + 1;
            switch (s.state()) {
                case CLOSED:
                    next = failures >= config.failureThreshold()
                            ? new Snapshot(State.OPEN, failures, ticker.nanos(), 0, s.probeRound(), failures + " consecutive failures")
                            : new Snapshot(State.CLOSED, failures, s.sinceNanos(), 0, s.probeRound(), failures + " consecutive failures");
                    break;
                case HALF_OPEN:
                    next = new Snapshot(State.OPEN, failures, ticker.nanos(), 0, s.probeRound(), "half-open probe failed");
                    break;
                default: // OPEN: not counted
                    return false;
            }
            if (ref.compareAndSet(s, next)) {
                if (next.state() != s.state()) {
                    notifyListeners(s, next);
                }
                return next.state() == State.OPEN;
            }
        }
    }

    /** Forces a state (operator action or the line-JSON {@code state} field). */
    public void transitionTo(State state, String reason) {
        for (;;) {
            Snapshot s = ref.get();
            if (s.state() == state) {
                return;
            }
            int probes = state == State.HALF_OPEN ? config.halfOpenProbes() : 0;
            int failures = state == State.CLOSED ? 0 : s.consecutiveFailures();
            long round = state == State.HALF_OPEN ? s.probeRound() + 1 : s.probeRound();
            Snapshot next = new Snapshot(state, failures, ticker.nanos(), probes, round, reason);
            if (ref.compareAndSet(s, next)) {
                notifyListeners(s, next);
                return;
            }
        }
    }

    private static Snapshot withProbes(Snapshot s, int probesLeft) {
        return new Snapshot(s.state(), s.consecutiveFailures(), s.sinceNanos(), probesLeft, s.probeRound(), s.reason());
    }

    private void notifyListeners(Snapshot from, Snapshot to) {
        log.info("breaker {}: {} -> {} ({})", name, from.state(), to.state(), to.reason());
        for (CircuitBreakerListener l : listeners) {
            try {
                l.onStateChanged(this, from.state(), to.state(), to.reason());
            } catch (Throwable t) {
                log.warn("breaker listener failed on {}", name, t);
            }
        }
    }

    @Override
    public String toString() {
        Snapshot s = ref.get();
        return "CircuitBreaker(" + name + ", " + s.state() + ", failures=" + s.consecutiveFailures() + ')';
    }
}

package io.outrigger.time;

/**
 * A source of monotonic time in nanoseconds, injected into every state machine so tests can
 * step time instead of sleeping.
 */
@FunctionalInterface
public interface Ticker {
    /** Returns a monotonic reading in nanoseconds; only differences are meaningful. */
    long nanos();

    /** Returns the ticker backed by {@link System#nanoTime()}. */
    static Ticker system() {
        return System::nanoTime;
    }
}

package io.outrigger.it.scenario;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A readable, time-stamped account of what a scenario did and saw, printed as it happens
 * ({@code [ +1.234s] text}). Thread-safe.
 */
public final class Timeline {
    private final long startNanos = System.nanoTime();
    private final PrintStream out;

    /** @param out where events are printed as they happen (the demo: stdout; tests: stderr) */
    public Timeline(PrintStream out) {
        this.out = out;
    }

    /** A heading for the next step. */
    public synchronized void section(String title) {
        out.println();
        out.println("== " + title);
    }

    /** One event, formatted with {@link String#format}. */
    public synchronized void event(String format, Object... args) {
        String text = String.format(Locale.ROOT, format, args);
        out.printf(Locale.ROOT, "[%+8.3fs] %s%n", (System.nanoTime() - startNanos) / 1e9, text);
    }

    /** Plain output without a time stamp (tables, indented details). */
    public synchronized void print(String text) {
        out.println(text);
    }
}

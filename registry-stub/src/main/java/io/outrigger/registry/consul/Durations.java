package io.outrigger.registry.consul;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses Consul (Go) durations: {@code 10s}, {@code 1m30s}, {@code 500ms}, {@code 1.5h}, {@code 0}. */
public final class Durations {
    private static final Pattern PART = Pattern.compile("(\\d+(?:\\.\\d*)?|\\.\\d+)(ns|us|\u00b5s|ms|s|m|h)");

    private Durations() {
    }

    /** The duration in milliseconds (sub-millisecond parts round up); throws with the reason on bad syntax. */
    public static long parseMillis(String text) {
        if (text == null || text.isEmpty()) {
            throw new IllegalArgumentException("\"\" (expected: a duration such as 10s, 500ms or 1m)");
        }
        if (text.equals("0")) {
            return 0;
        }
        Matcher m = PART.matcher(text);
        double nanos = 0;
        int at = 0;
        while (at < text.length()) {
            if (!m.find(at) || m.start() != at) {
                throw new IllegalArgumentException("\"" + text + "\" (expected: a duration such as 10s, 500ms or 1m)");
            }
            nanos += Double.parseDouble(m.group(1)) * unitNanos(m.group(2));
            at = m.end();
        }
        if (nanos > Long.MAX_VALUE / 2.0) {
            throw new IllegalArgumentException("\"" + text + "\" (expected: a shorter duration)");
        }
        return (long) Math.ceil(nanos / 1_000_000.0);
    }

    private static double unitNanos(String unit) {
        switch (unit) {
            case "ns": return 1;
            case "us":
            case "\u00b5s": return 1e3;
            case "ms": return 1e6;
            case "s": return 1e9;
            case "m": return 60e9;
            default: return 3600e9;
        }
    }
}

package io.outrigger.registry.consul;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses Consul (Go {@code time.ParseDuration}) durations: {@code 10s}, {@code 1m30s}, {@code 500ms}, {@code 1.5h},
 * {@code 0}, with an optional leading sign ({@code -1s}, {@code +5s}); what a negative one means is the caller's.
 */
public final class Durations {
    private static final Pattern PART = Pattern.compile("(\\d+(?:\\.\\d*)?|\\.\\d+)(ns|us|\u00b5s|ms|s|m|h)");

    private Durations() {
    }

    /**
     * The duration in milliseconds (sub-millisecond parts round away from zero), negative after a {@code -}; throws
     * with the reason on bad syntax.
     */
    public static long parseMillis(String text) {
        if (text == null || text.isEmpty()) {
            throw new IllegalArgumentException("\"\" (expected: a duration such as 10s, 500ms or 1m)");
        }
        boolean negative = text.charAt(0) == '-';
        int at = negative || text.charAt(0) == '+' ? 1 : 0;
        if (text.length() == at) {
            throw new IllegalArgumentException("\"" + text + "\" (expected: a duration such as 10s, 500ms or 1m)");
        }
        if (text.substring(at).equals("0")) {
            return 0;
        }
        Matcher m = PART.matcher(text);
        double nanos = 0;
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
        long millis = (long) Math.ceil(nanos / 1_000_000.0);
        return negative ? -millis : millis;
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

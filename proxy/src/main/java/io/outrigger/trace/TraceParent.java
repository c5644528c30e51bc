package io.outrigger.trace;

import java.nio.charset.StandardCharsets;

/**
 * A W3C Trace Context {@code traceparent} header: {@code 00-<trace-id>-<parent-id>-<flags>}.
 *
 * @param traceId  32 lower-case hex digits, not all zero
 * @param parentId 16 lower-case hex digits, not all zero
 * @param flags    the trace-flags byte (bit 0: sampled)
 */
public record TraceParent(String traceId, String parentId, int flags) {
    public static final String HEADER = "traceparent";
    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

    /** Starts a new trace with a random trace id and span id, sampled. */
    public static TraceParent newRoot() {
        return new TraceParent(TraceIds.randomTraceId(), TraceIds.randomSpanId(), 1);
    }

    /**
     * The same trace, with a new span of this hop as the parent of the next one. Only the sampled
     * flag is passed on: the other bits are reserved, and a participant sets them to zero (W3C Trace
     * Context, trace-flags).
     */
    public TraceParent newChild() {
        return new TraceParent(traceId, TraceIds.randomSpanId(), flags & 0x01);
    }

    /** The length of a version-00 value: {@code 00-}, 32 hex digits, {@code -}, 16, {@code -}, 2. */
    public static final int LENGTH = 55;
    /** Where the trace id starts in a version-00 value. */
    public static final int TRACE_ID_OFFSET = 3;

    /**
     * The value of a new span's {@code traceparent}, version 00, as {@value #LENGTH} Latin-1 bytes: a child
     * of {@code parent} ({@link #newChild()}), or the root of a new sampled trace ({@link #newRoot()}) when it
     * is null. The trace id is at {@value #TRACE_ID_OFFSET}. Built in one array that the caller can wrap
     * without a copy: the HTTP edges make one for every request.
     */
    public static byte[] newSpan(TraceParent parent) {
        byte[] out = new byte[LENGTH];
        out[0] = '0';
        out[1] = '0';
        out[2] = '-';
        int flags;
        if (parent == null) {
            TraceIds.randomHex(out, TRACE_ID_OFFSET, 2);
            flags = 1;
        } else {
            if (parent.traceId.length() != 32) {
                throw new IllegalArgumentException("trace id: " + parent.traceId + " (expected: 32 hex digits)");
            }
            ascii(parent.traceId, out, TRACE_ID_OFFSET);
            flags = parent.flags & 0x01;
        }
        out[35] = '-';
        TraceIds.randomHex(out, 36, 1);
        out[52] = '-';
        out[53] = HEX[(flags >> 4) & 0xf];
        out[54] = HEX[flags & 0xf];
        return out;
    }

    /**
     * Parses a header value; returns null when it is not a valid version-00 (or later
     * version, read by its first four fields) traceparent, as the W3C spec says to then
     * start a new trace.
     */
    public static TraceParent parse(CharSequence value) {
        if (value == null) {
            return null;
        }
        String v = value.toString().trim();
        if (v.length() < 55 || v.charAt(2) != '-' || v.charAt(35) != '-' || v.charAt(52) != '-') {
            return null;
        }
        String version = v.substring(0, 2);
        if (!isHex(version) || "ff".equals(version) || ("00".equals(version) && v.length() != 55)) {
            return null;
        }
        if (v.length() > 55 && v.charAt(55) != '-') {
            return null;
        }
        String traceId = v.substring(3, 35);
        String parentId = v.substring(36, 52);
        String flags = v.substring(53, 55);
        if (!isHex(traceId) || !isHex(parentId) || !isHex(flags) || isZero(traceId) || isZero(parentId)) {
            return null;
        }
        return new TraceParent(traceId, parentId, Integer.parseInt(flags, 16));
    }

    /** The header value, always written as version 00. */
    public String format() {
        // Built in one Latin-1 byte array, copied into the String once: this runs for every proxied request.
        int t = traceId.length();
        int p = parentId.length();
        byte[] out = new byte[3 + t + 1 + p + 3];
        out[0] = '0';
        out[1] = '0';
        out[2] = '-';
        ascii(traceId, out, 3);
        out[3 + t] = '-';
        ascii(parentId, out, 4 + t);
        out[4 + t + p] = '-';
        out[5 + t + p] = HEX[(flags >> 4) & 0xf];
        out[6 + t + p] = HEX[flags & 0xf];
        return new String(out, StandardCharsets.ISO_8859_1);
    }

    private static void ascii(String s, byte[] out, int at) {
        for (int i = 0; i < s.length(); i++) {
            out[at + i] = (byte) s.charAt(i);
        }
    }

    @Override
    public String toString() {
        return format();
    }

    private static boolean isHex(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                return false;
            }
        }
        return true;
    }

    private static boolean isZero(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) != '0') {
                return false;
            }
        }
        return true;
    }
}

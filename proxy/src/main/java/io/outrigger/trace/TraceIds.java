package io.outrigger.trace;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Random identifiers for traces, spans and requests.
 *
 * <p>Uses {@link ThreadLocalRandom}: trace ids must be unique, not secret, and a secure random
 * source would cost a lock and far more time per request. Thread-safe.
 */
public final class TraceIds {
    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

    private TraceIds() {
    }

    /** A random version-4 UUID in the canonical 8-4-4-4-12 lower-case hex form. */
    public static String randomUuid() {
        return new String(randomUuidBytes(), StandardCharsets.ISO_8859_1); // Latin-1 bytes become the String as they are
    }

    /**
     * {@link #randomUuid()} as its 36 Latin-1 bytes, for a caller that wraps them without a copy
     * (the HTTP edges, which make one for every request that arrives without an id).
     */
    public static byte[] randomUuidBytes() {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        long hi = (r.nextLong() & 0xffffffffffff0fffL) | 0x0000000000004000L; // version 4
        long lo = (r.nextLong() & 0x3fffffffffffffffL) | 0x8000000000000000L; // IETF variant
        byte[] out = new byte[36];
        hex(hi >>> 32, 8, out, 0);
        out[8] = (byte) '-';
        hex(hi >>> 16, 4, out, 9);
        out[13] = (byte) '-';
        hex(hi, 4, out, 14);
        out[18] = (byte) '-';
        hex(lo >>> 48, 4, out, 19);
        out[23] = (byte) '-';
        hex(lo, 12, out, 24);
        return out;
    }

    /** A random non-zero 16-hex-digit span id (W3C parent-id). */
    public static String randomSpanId() {
        return randomHex(1);
    }

    /** A random non-zero 32-hex-digit trace id (W3C trace-id). */
    public static String randomTraceId() {
        return randomHex(2);
    }

    private static String randomHex(int longs) {
        byte[] out = new byte[16 * longs];
        randomHex(out, 0, longs);
        return new String(out, StandardCharsets.ISO_8859_1); // Latin-1 bytes become the String as they are
    }

    /** Writes {@code 16 * longs} random lower-case hex digits, not all zero, into {@code out} from {@code at}. */
    static void randomHex(byte[] out, int at, int longs) {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        long any;
        do {
            any = 0;
            for (int i = 0; i < longs; i++) {
                long v = r.nextLong();
                hex(v, 16, out, at + 16 * i);
                any |= v;
            }
        } while (any == 0);
    }

    private static void hex(long value, int digits, byte[] out, int offset) {
        for (int i = digits - 1; i >= 0; i--) {
            out[offset + i] = HEX[(int) (value & 0xf)];
            value >>>= 4;
        }
    }
}

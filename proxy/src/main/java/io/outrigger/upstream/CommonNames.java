package io.outrigger.upstream;

import io.netty.util.AsciiString;

import java.util.ArrayList;
import java.util.List;

/**
 * Response field names common enough to be shared rather than made anew for every response
 * ({@link ResponseHead#plainResponse}): each in the case most servers write it and in lower case. A name is
 * found only when its bytes are the constant's exactly, so the case the instance wrote is what is relayed.
 */
final class CommonNames {
    private static final String[] NAMES = {
            "Server", "Date", "Content-Type", "Content-Length", "Connection", "Keep-Alive", "Cache-Control", "Vary",
            "ETag", "Last-Modified", "Expires", "Set-Cookie", "Location", "Content-Encoding", "Accept-Ranges", "Age",
            "Pragma", "X-Request-Id", "Traceparent", "Access-Control-Allow-Origin", "Strict-Transport-Security",
            "X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Retry-After",
    };
    /** The names by length: {@code BY_LENGTH[n]} holds those of {@code n} bytes. */
    private static final AsciiString[][] BY_LENGTH = byLength();

    private CommonNames() {
    }

    /** The shared constant whose bytes are {@code b[from, from + length)} exactly, or null. */
    static AsciiString find(byte[] b, int from, int length) {
        if (length >= BY_LENGTH.length) {
            return null;
        }
        for (AsciiString name : BY_LENGTH[length]) {
            byte[] n = name.array(); // a constant made from a String: its array is its bytes, from 0
            int k = 0;
            while (k < length && n[k] == b[from + k]) {
                k++;
            }
            if (k == length) {
                return name;
            }
        }
        return null;
    }

    private static AsciiString[][] byLength() {
        int longest = 0;
        for (String name : NAMES) {
            longest = Math.max(longest, name.length());
        }
        List<List<AsciiString>> lists = new ArrayList<>();
        for (int n = 0; n <= longest; n++) {
            lists.add(new ArrayList<>());
        }
        for (String name : NAMES) {
            lists.get(name.length()).add(AsciiString.cached(name));
            lists.get(name.length()).add(AsciiString.cached(name.toLowerCase(java.util.Locale.ROOT)));
        }
        AsciiString[][] table = new AsciiString[longest + 1][];
        for (int n = 0; n <= longest; n++) {
            table[n] = lists.get(n).toArray(new AsciiString[0]);
        }
        return table;
    }
}

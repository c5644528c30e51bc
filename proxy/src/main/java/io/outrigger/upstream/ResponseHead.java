package io.outrigger.upstream;

import io.netty.buffer.ByteBuf;

/**
 * Finds the end of a response head in a buffer and checks its field lines (RFC 9112 5): each one a
 * field name (a token), optional whitespace, a colon; or, after the first, an obsolete line folding
 * (a line starting with a space or tab, which Netty joins to the field before it). Whitespace
 * between the name and the colon is allowed, as Netty removes it, which is what RFC 9112 5.1 asks a
 * proxy to do. Of the status line only the HTTP version is checked here, the rest is left to Netty:
 * it must be {@code HTTP/1.x} (RFC 9112 2.3; a higher minor version is read as 1.1, RFC 9110 2.5),
 * as Netty would accept {@code HTTP/2.0}, {@code HTTP/0.9} or {@code FOO/1.1} and the response
 * would be relayed as an HTTP/1.1 one. Stateless.
 */
final class ResponseHead {
    private ResponseHead() {
    }

    /**
     * The index of the LF that ends the head starting at {@code in}'s reader index (after the control
     * characters and whitespace Netty skips before a status line), or -1 when the head is not complete.
     *
     * @param scanned how many bytes after the reader index an earlier call found no end in ({@link #scanned}),
     *                so a head arriving in many small reads is not searched from its start each time
     */
    static int end(ByteBuf in, int scanned) {
        int i = Math.max(statusLineStart(in), in.readerIndex() + scanned);
        int limit = in.writerIndex();
        while (i < limit) {
            int lf = in.indexOf(i, limit, (byte) '\n');
            if (lf < 0) {
                return -1;
            }
            if (lf + 1 < limit && in.getByte(lf + 1) == '\n') {
                return lf + 1;
            }
            if (lf + 2 < limit && in.getByte(lf + 1) == '\r' && in.getByte(lf + 2) == '\n') {
                return lf + 2;
            }
            i = lf + 1;
        }
        return -1;
    }

    /** What to pass as {@code scanned} to the next {@link #end} after it found no end in {@code in}: the last two bytes may begin it. */
    static int scanned(ByteBuf in) {
        return Math.max(0, in.readableBytes() - 2);
    }

    /** What is wrong with a field line of the head that ends at {@code end} ({@link #end}), or null when nothing is. */
    static String problem(ByteBuf in, int end) {
        int statusLine = statusLineStart(in);
        if (!isHttp1Version(in, statusLine, end)) {
            return "the status line's HTTP version is not 1.x";
        }
        int lineStart = in.indexOf(statusLine, end, (byte) '\n') + 1; // past the status line
        for (int line = 2; lineStart < end; line++) {
            int lineEnd = in.indexOf(lineStart, end + 1, (byte) '\n');
            int i = lineStart;
            byte first = in.getByte(i);
            if (first == '\r' && i + 1 == lineEnd) {
                return null; // the blank line that ends the head
            }
            if (first == ' ' || first == '\t') {
                if (line == 2) {
                    return "header line 2 starts with whitespace"; // RFC 9112 2.2: no folding onto the status line
                }
            } else {
                while (i < lineEnd && isTokenChar(in.getByte(i))) {
                    i++;
                }
                boolean named = i > lineStart;
                while (i < lineEnd && (in.getByte(i) == ' ' || in.getByte(i) == '\t')) {
                    i++;
                }
                if (!named || i == lineEnd || in.getByte(i) != ':') {
                    return "header line " + line + " is not a field name (a token) followed by a colon";
                }
            }
            lineStart = lineEnd + 1;
        }
        return null;
    }

    /**
     * Whether the status line starting at {@code start} begins with {@code HTTP/1.} and a minor version
     * (digits; the name's case and leading zeros in the major version are allowed, as Netty allows them)
     * followed by whitespace.
     */
    private static boolean isHttp1Version(ByteBuf in, int start, int end) {
        String name = "HTTP/";
        int i = start;
        for (int k = 0; k < name.length(); k++, i++) {
            if (i >= end || Character.toUpperCase((char) (in.getByte(i) & 0xFF)) != name.charAt(k)) {
                return false;
            }
        }
        while (i < end && in.getByte(i) == '0') {
            i++;
        }
        if (i + 2 >= end || in.getByte(i) != '1' || in.getByte(i + 1) != '.') {
            return false;
        }
        i += 2;
        int minorStart = i;
        while (i < end && in.getByte(i) >= '0' && in.getByte(i) <= '9') {
            i++;
        }
        return i > minorStart && i < end && (in.getByte(i) == ' ' || in.getByte(i) == '\t');
    }

    /** Past the control characters and whitespace Netty skips before a status line. */
    private static int statusLineStart(ByteBuf in) {
        int i = in.readerIndex();
        int limit = in.writerIndex();
        while (i < limit) {
            char c = (char) (in.getByte(i) & 0xFF);
            if (!Character.isISOControl(c) && !Character.isWhitespace(c)) {
                break;
            }
            i++;
        }
        return i;
    }

    /** RFC 9110 5.6.2: tchar, by byte value (a table: every byte of every field name passes through here). */
    private static final boolean[] TCHAR = new boolean[128];

    static {
        for (int c = 0; c < 128; c++) {
            TCHAR[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
        }
    }

    private static boolean isTokenChar(byte b) {
        return b >= 0 && TCHAR[b];
    }
}

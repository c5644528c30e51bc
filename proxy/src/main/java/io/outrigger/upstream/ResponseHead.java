package io.outrigger.upstream;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;

/**
 * Finds the end of a response head and checks its field lines (RFC 9112 5): each one a field name (a
 * token), optional whitespace, a colon; or, after the first, an obsolete line folding (a line starting
 * with a space or tab, which Netty joins to the field before it). Whitespace between the name and the
 * colon is allowed, as Netty removes it, which is what RFC 9112 5.1 asks a proxy to do. Of the status
 * line only the HTTP version is checked here, the rest is left to Netty: it must be {@code HTTP/1.x}
 * (RFC 9112 2.3; a higher minor version is read as 1.1, RFC 9110 2.5), as Netty would accept
 * {@code HTTP/2.0}, {@code HTTP/0.9} or {@code FOO/1.1} and the response would be relayed as an
 * HTTP/1.1 one.
 *
 * <p>The head's bytes are copied out of the decoder's buffer as they arrive, each byte once, and
 * scanned in an array: read one {@link ByteBuf#getByte} at a time, every byte paid the buffer's
 * index and reference-count checks (twice over for a slice of a shared read buffer), and the scan
 * cost as much as Netty's whole decoding of the response. Only the head is copied: a body that
 * arrives in the same read is left where it is. One per connection, reused for each response (at most
 * {@value #MAX_KEPT} bytes kept between them); event loop only.
 *
 * <p>The common response, a plain head framed by one {@code Content-Length}, is then also built from
 * that copy ({@link #plainResponse}), so its bytes are not scanned a second time by Netty's decoder;
 * every other head is left to Netty.
 */
final class ResponseHead {
    /** The first copy: enough for a typical head whole. */
    private static final int FIRST_COPY = 512;
    /** The most a connection keeps between heads: a longer head's copy is dropped once it is checked. */
    static final int MAX_KEPT = 4096;

    /** The head's bytes so far: {@code bytes[0, length)} are the buffer's from its reader index. */
    private byte[] bytes = new byte[FIRST_COPY];
    private int length;
    /** Bytes of {@link #bytes} known to hold no end of the head (the last two may begin one). */
    private int scanned;
    /** The {@code Content-Length} of the last response {@link #plainResponse} built. */
    private long plainLength;

    /**
     * Forgets the head scanned: the next call of {@link #end} starts on a new one. A copy grown past
     * {@value #MAX_KEPT} bytes for one long head is let go, so a pooled connection does not keep it.
     */
    void reset() {
        length = 0;
        scanned = 0;
        if (bytes.length > MAX_KEPT) {
            bytes = new byte[FIRST_COPY];
        }
    }

    /** The bytes this connection keeps for copying heads. */
    int keptBytes() {
        return bytes.length;
    }

    /**
     * The index, counted from {@code in}'s reader index, of the LF that ends the head starting there (after
     * the control characters and whitespace Netty skips before a status line), or -1 when none is among its
     * first {@code limit} bytes. Reads only the bytes of {@code in} it has not copied before, and no more
     * of them than it needs: a call for each new piece of a head arriving in many reads copies each byte
     * once, and a head followed by its body is copied without the body.
     *
     * @param in the decoder's buffer; between calls for one head its bytes from the reader index stay, and
     *           more may follow them
     */
    int end(ByteBuf in, int limit) {
        int available = Math.min(in.readableBytes(), limit);
        while (length < available) {
            int copy = Math.min(available - length, Math.max(FIRST_COPY, length)); // doubling: a long head is copied in few steps
            if (length + copy > bytes.length) {
                bytes = java.util.Arrays.copyOf(bytes, Math.max(length + copy, 2 * bytes.length));
            }
            in.getBytes(in.readerIndex() + length, bytes, length, copy);
            length += copy;
            int end = scan();
            if (end >= 0) {
                return end;
            }
        }
        return -1;
    }

    /** The end of the head in the bytes copied so far, or -1, resuming where the last scan stopped. */
    private int scan() {
        byte[] b = bytes;
        int limit = length;
        int i = Math.max(statusLineStart(), scanned);
        for (; i < limit; i++) {
            if (b[i] != '\n') {
                continue;
            }
            if (i + 1 < limit && b[i + 1] == '\n') {
                return i + 1;
            }
            if (i + 2 < limit && b[i + 1] == '\r' && b[i + 2] == '\n') {
                return i + 2;
            }
        }
        scanned = Math.max(0, limit - 2);
        return -1;
    }

    /** What is wrong with a field line of the head that ends at {@code end} ({@link #end}), or null when nothing is. */
    String problem(int end) {
        byte[] b = bytes;
        int statusLine = statusLineStart();
        if (!isHttp1Version(statusLine, end)) {
            return "the status line's HTTP version is not 1.x";
        }
        int lineStart = indexOfLf(statusLine, end) + 1; // past the status line
        for (int line = 2; lineStart < end; line++) {
            int lineEnd = indexOfLf(lineStart, end + 1);
            int i = lineStart;
            byte first = b[i];
            if (first == '\r' && i + 1 == lineEnd) {
                return null; // the blank line that ends the head
            }
            if (first == ' ' || first == '\t') {
                if (line == 2) {
                    return "header line 2 starts with whitespace"; // RFC 9112 2.2: no folding onto the status line
                }
            } else {
                while (i < lineEnd && isTokenChar(b[i])) {
                    i++;
                }
                boolean named = i > lineStart;
                while (i < lineEnd && (b[i] == ' ' || b[i] == '\t')) {
                    i++;
                }
                if (!named || i == lineEnd || b[i] != ':') {
                    return "header line " + line + " is not a field name (a token) followed by a colon";
                }
            }
            lineStart = lineEnd + 1;
        }
        return null;
    }

    /**
     * The response whose head ends at {@code end}, built from the copy as
     * Netty's response decoder would build it, when the head is a plain one, and null for any other: the
     * status line {@code HTTP/1.1} or {@code HTTP/1.0}, a status of 200-599 other than 204 and 304, one
     * space, a reason phrase of printable ASCII without spaces at either end (or none) and CRLF; each field
     * line a name, a colon straight after it, a value of visible characters, spaces, tabs or bytes above
     * 0x7F, and CRLF; exactly one {@code Content-Length}, of at most 18 digits without a leading zero; no
     * {@code Transfer-Encoding}; the whole head within {@code maxBytes}. Netty decodes the others as ever,
     * repairs (folded lines, whitespace before a colon) and failures included; a response to {@code HEAD}
     * the caller leaves to it too. The body's length is {@link #plainLength()}. A head this accepts has
     * no {@link #problem}: its checks are a stricter form of those.
     *
     * <p>Names and values are {@link AsciiString}s copied from the head: their bytes are checked here, as
     * Netty's value check would check them ({@link OwnHeaderValues} does not check them again), and they are
     * written on by {@link io.outrigger.codec.HeadWriter} with one array copy each.
     */
    HttpResponse plainResponse(int end, HttpHeadersFactory factory, int maxBytes) {
        byte[] b = bytes;
        // Netty's decoder (strict line parsing, its default) skips only CR and LF before a status line and fails a
        // head whose next byte is a control character; statusLineStart() skips more (any control byte, whitespace).
        int i = 0;
        while (i < end && (b[i] == '\r' || b[i] == '\n')) {
            i++;
        }
        if (end >= maxBytes || end - i < 16 || b[end - 1] != '\r' || b[i] != 'H' || b[i + 1] != 'T' || b[i + 2] != 'T' || b[i + 3] != 'P'
                || b[i + 4] != '/' || b[i + 5] != '1' || b[i + 6] != '.' || b[i + 8] != ' ' || b[i + 12] != ' ') {
            return null;
        }
        HttpVersion version = b[i + 7] == '1' ? HttpVersion.HTTP_1_1 : b[i + 7] == '0' ? HttpVersion.HTTP_1_0 : null;
        int code = digit(b[i + 9]) * 100 + digit(b[i + 10]) * 10 + digit(b[i + 11]);
        if (version == null || code < 200 || code > 599 || code == 204 || code == 304) {
            return null; // a negative digit makes the code negative
        }
        int reasonStart = i + 13;
        int lf = indexOfLf(reasonStart, end);
        int reasonEnd = lf - 1;
        if (reasonEnd < reasonStart || b[reasonEnd] != '\r') {
            return null;
        }
        HttpResponseStatus status = status(code, reasonStart, reasonEnd);
        if (status == null) {
            return null;
        }
        HttpHeaders headers = factory.newHeaders();
        // The fields' values are views of one copy of the head, made for this response (this connection's
        // array is reused for the next head), and common names are shared constants: two allocations a
        // field fewer than copying each name and value.
        byte[] copy = lf + 1 < end - 1 ? java.util.Arrays.copyOf(b, end) : null;
        long length = -1;
        for (int line = lf + 1; line < end - 1; ) { // to the blank line, end - 1 and end
            lf = indexOfLf(line, end + 1);
            int cr = lf - 1;
            if (cr <= line || b[cr] != '\r') {
                return null; // a bare LF, or a folded or empty line before the end
            }
            int nameEnd = line;
            while (isTokenChar(b[nameEnd])) {
                nameEnd++;
            }
            if (nameEnd == line || b[nameEnd] != ':') {
                return null;
            }
            int valueStart = nameEnd + 1;
            int valueEnd = cr;
            while (valueStart < valueEnd && isOws(b[valueStart])) {
                valueStart++;
            }
            while (valueEnd > valueStart && isOws(b[valueEnd - 1])) {
                valueEnd--;
            }
            for (int k = valueStart; k < valueEnd; k++) {
                int c = b[k] & 0xFF;
                if (c < 0x20 && c != '\t' || c == 0x7F) {
                    return null; // Netty's check fails it
                }
            }
            int nameLength = nameEnd - line;
            if (nameLength == 17 && equalsIgnoreCase(line, "transfer-encoding")) {
                return null;
            }
            if (nameLength == 14 && equalsIgnoreCase(line, "content-length")) {
                if (length >= 0 || (length = length(valueStart, valueEnd)) < 0) {
                    return null; // a second one, or not a plain number
                }
            }
            AsciiString name = CommonNames.find(b, line, nameLength);
            headers.add(name != null ? name : new AsciiString(copy, line, nameLength, false),
                    valueEnd == valueStart ? AsciiString.EMPTY_STRING : new AsciiString(copy, valueStart, valueEnd - valueStart, false));
            line = lf + 1;
        }
        if (length < 0) {
            return null; // read to the connection's close: Netty's
        }
        plainLength = length;
        return new DefaultHttpResponse(version, status, headers);
    }

    /** The body's length of the last response {@link #plainResponse} built. */
    long plainLength() {
        return plainLength;
    }

    /** The status with the reason phrase in {@code bytes[from, to)}: Netty's constant when the phrase is its own; null when the phrase is not plain. */
    private HttpResponseStatus status(int code, int from, int to) {
        byte[] b = bytes;
        if (from < to && (b[from] == ' ' || b[to - 1] == ' ')) {
            return null;
        }
        for (int k = from; k < to; k++) {
            if (b[k] < 0x20 || b[k] == 0x7F) {
                return null; // a control character, or a byte above 0x7F (negative)
            }
        }
        HttpResponseStatus known = HttpResponseStatus.valueOf(code);
        String phrase = known.reasonPhrase();
        boolean same = phrase.length() == to - from;
        for (int k = 0; same && k < phrase.length(); k++) {
            same = phrase.charAt(k) == b[from + k];
        }
        return same ? known : new HttpResponseStatus(code, new String(b, 0, from, to - from));
    }

    /** A Content-Length value of 1-18 digits without a leading zero (or {@code 0}), or -1. */
    private long length(int from, int to) {
        int n = to - from;
        if (n < 1 || n > 18 || n > 1 && bytes[from] == '0') {
            return -1;
        }
        long v = 0;
        for (int k = from; k < to; k++) {
            int d = digit(bytes[k]);
            if (d < 0) {
                return -1;
            }
            v = v * 10 + d;
        }
        return v;
    }

    /** Whether {@code bytes} from {@code from} hold {@code lower} (lower case, letters and '-') in any case. */
    private boolean equalsIgnoreCase(int from, String lower) {
        for (int k = 0; k < lower.length(); k++) {
            if ((bytes[from + k] | 0x20) != lower.charAt(k)) {
                return false;
            }
        }
        return true;
    }

    private static int digit(byte c) {
        return c >= '0' && c <= '9' ? c - '0' : -1000;
    }

    private static boolean isOws(byte c) {
        return c == ' ' || c == '\t';
    }

    /** The index of the first LF in {@code bytes[from, to)}; the head's end guarantees one before {@code to}. */
    private int indexOfLf(int from, int to) {
        for (int i = from; i < to; i++) {
            if (bytes[i] == '\n') {
                return i;
            }
        }
        return -1;
    }

    /**
     * Whether the status line starting at {@code start} begins with {@code HTTP/1.} and a minor version
     * (digits; the name's case and leading zeros in the major version are allowed, as Netty allows them)
     * followed by whitespace.
     */
    private boolean isHttp1Version(int start, int end) {
        byte[] b = bytes;
        String name = "HTTP/";
        int i = start;
        for (int k = 0; k < name.length(); k++, i++) {
            if (i >= end || Character.toUpperCase((char) (b[i] & 0xFF)) != name.charAt(k)) {
                return false;
            }
        }
        while (i < end && b[i] == '0') {
            i++;
        }
        if (i + 2 >= end || b[i] != '1' || b[i + 1] != '.') {
            return false;
        }
        i += 2;
        int minorStart = i;
        while (i < end && b[i] >= '0' && b[i] <= '9') {
            i++;
        }
        return i > minorStart && i < end && (b[i] == ' ' || b[i] == '\t');
    }

    /** Past the control characters and whitespace Netty skips before a status line. */
    private int statusLineStart() {
        int i = 0;
        while (i < length) {
            char c = (char) (bytes[i] & 0xFF);
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

package io.outrigger.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Removes the hop-by-hop headers of RFC 9110 section 7.6.1 from a message in place: the fixed
 * set ({@code Connection}, {@code Keep-Alive}, {@code Proxy-Connection}, {@code TE},
 * {@code Trailer}, {@code Transfer-Encoding}, {@code Upgrade}) and every header named in
 * {@code Connection}, except those no hop may take away: {@code Content-Length} and {@code Host}
 * (a client naming {@code Content-Length} in {@code Connection} would otherwise have its body
 * forwarded without framing: a request smuggled into the upstream connection). Framing headers
 * the proxy needs are set again by the caller; headers the proxy adds are added after this. Stateless.
 *
 * <p>Runs on every request and response, so it looks before it removes: one pass over the
 * message's few headers finds the hop-by-hop ones, and only those are removed (most requests
 * have none; most responses have only {@code Connection}).
 */
public final class HopByHopHeaders {
    private static final AsciiString PROXY_CONNECTION = AsciiString.cached("proxy-connection");

    private HopByHopHeaders() {
    }

    public static void strip(HttpHeaders headers) {
        if (headers.isEmpty()) {
            return;
        }
        // A message rarely carries more than two of the seven; eight slots hold any mix without growing.
        CharSequence[] found = null;
        int n = 0;
        boolean connection = false;
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = headers.iteratorCharSequence(); it.hasNext(); ) {
            CharSequence name = it.next().getKey();
            if (isFixed(name)) {
                if (found == null) {
                    found = new CharSequence[8];
                }
                if (!foundAlready(found, n, name)) {
                    found[n++] = name; // each of the seven names once: a repeated line cannot crowd a later name out of the slots
                }
                connection |= AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.CONNECTION);
            }
        }
        if (found == null) {
            return;
        }
        if (connection) {
            removeListedIn(headers);
        }
        for (int i = 0; i < n; i++) {
            headers.remove(found[i]); // repeated names: the first remove takes every value
        }
    }

    private static boolean foundAlready(CharSequence[] found, int n, CharSequence name) {
        for (int i = 0; i < n; i++) {
            if (AsciiString.contentEqualsIgnoreCase(found[i], name)) {
                return true;
            }
        }
        return false;
    }

    /** A {@code Connection} value naming only {@code keep-alive}: a field of the fixed set, removed anyway. */
    private static final TokenTest KEEP_ALIVE = (value, from, to) -> regionEqualsIgnoreCase(value, from, to, HttpHeaderNames.KEEP_ALIVE);

    /**
     * Removes every header named in the {@code Connection} values (comma-separated tokens). The common value,
     * {@code keep-alive} alone, is recognised in place, with no list or string made for it.
     */
    private static void removeListedIn(HttpHeaders headers) {
        if (allTokens(headers, HttpHeaderNames.CONNECTION, KEEP_ALIVE)) {
            return;
        }
        List<CharSequence> named = new ArrayList<>(4); // collected first: the values are read while the map stays unchanged
        allTokens(headers, HttpHeaderNames.CONNECTION, (value, from, to) -> {
            CharSequence token = value.subSequence(from, to);
            if (!isEndToEnd(token)) {
                named.add(token);
            }
            return true;
        });
        for (CharSequence name : named) {
            headers.remove(name);
        }
    }

    private static boolean regionEqualsIgnoreCase(CharSequence value, int from, int to, AsciiString lower) {
        return to - from == lower.length() && AsciiString.regionMatches(value, true, from, lower, 0, lower.length());
    }

    /** A non-empty token of a comma-separated value: {@code value[from, to)}, trimmed; true to go on to the next. */
    private interface TokenTest {
        boolean test(CharSequence value, int from, int to);
    }

    /**
     * Whether {@code test} holds for every non-empty token, trimmed as {@link String#trim} trims, of the comma-separated
     * values of {@code name}; stops at the first that fails. The values are read in place, no string made for a token.
     */
    private static boolean allTokens(HttpHeaders headers, CharSequence name, TokenTest test) {
        for (Iterator<? extends CharSequence> it = headers.valueCharSequenceIterator(name); it.hasNext(); ) {
            CharSequence value = it.next();
            int length = value.length();
            for (int start = 0; start <= length; ) {
                int end = start;
                while (end < length && value.charAt(end) != ',') {
                    end++;
                }
                int from = start;
                int to = end;
                while (from < to && value.charAt(from) <= ' ') {
                    from++;
                }
                while (to > from && value.charAt(to - 1) <= ' ') {
                    to--;
                }
                if (to > from && !test.test(value, from, to)) {
                    return false;
                }
                start = end + 1;
            }
        }
        return true;
    }

    /**
     * Whether every {@code Transfer-Encoding} of the message is {@code chunked} (or it has none). The
     * proxy re-frames bodies and relays chunked only: a message with another coding (gzip, say) would
     * reach the next hop without it, its bytes taken for the plain content.
     */
    public static boolean onlyChunked(HttpHeaders headers) {
        return allTokens(headers, HttpHeaderNames.TRANSFER_ENCODING,
                (value, from, to) -> regionEqualsIgnoreCase(value, from, to, HttpHeaderValues.CHUNKED));
    }

    /** A header that describes the message itself or its target, so a connection option cannot name it away. */
    static boolean isEndToEnd(CharSequence name) {
        return AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.CONTENT_LENGTH) || AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.HOST);
    }

    /** One of the fixed hop-by-hop names, in any letter case. */
    static boolean isFixed(CharSequence name) {
        switch (name.length()) {
            case 2:
                return AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.TE);
            case 7:
                return AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.UPGRADE)
                        || AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.TRAILER);
            case 10:
                return AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.CONNECTION)
                        || AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.KEEP_ALIVE);
            case 16:
                return AsciiString.contentEqualsIgnoreCase(name, PROXY_CONNECTION);
            case 17:
                return AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.TRANSFER_ENCODING);
            default:
                return false;
        }
    }
}

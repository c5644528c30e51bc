package io.outrigger.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;

import java.util.List;

/**
 * Removes the hop-by-hop headers of RFC 9110 section 7.6.1 from a message in place: the fixed
 * set ({@code Connection}, {@code Keep-Alive}, {@code Proxy-Connection}, {@code TE},
 * {@code Trailer}, {@code Transfer-Encoding}, {@code Upgrade}) and every header named in
 * {@code Connection}. Framing headers the proxy needs are set again by the caller. Stateless.
 */
public final class HopByHopHeaders {
    private static final AsciiString PROXY_CONNECTION = AsciiString.cached("proxy-connection");
    private static final AsciiString[] FIXED = {
        HttpHeaderNames.CONNECTION, HttpHeaderNames.KEEP_ALIVE, PROXY_CONNECTION, HttpHeaderNames.TE,
        HttpHeaderNames.TRAILER, HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderNames.UPGRADE,
    };

    private HopByHopHeaders() {
    }

    public static void strip(HttpHeaders headers) {
        if (headers.contains(HttpHeaderNames.CONNECTION)) {
            List<String> values = headers.getAll(HttpHeaderNames.CONNECTION);
            for (String value : values) {
                int start = 0;
                while (start <= value.length()) {
                    int comma = value.indexOf(',', start);
                    int end = comma < 0 ? value.length() : comma;
                    String name = value.substring(start, end).trim();
                    if (!name.isEmpty()) {
                        headers.remove(name);
                    }
                    start = end + 1;
                }
            }
        }
        for (AsciiString name : FIXED) {
            headers.remove(name);
        }
    }
}

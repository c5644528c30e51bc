package io.outrigger.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;

/**
 * {@code Max-Forwards} on {@code OPTIONS} and {@code TRACE} (RFC 9110 7.6.2): a request that may be
 * forwarded no further is answered by the sidecar as its final recipient, any other goes on with the
 * count lowered by one. Other methods, and a value that is not a number, pass untouched. Stateless.
 */
final class MaxForwards {
    /** The methods the sidecar passes on, as an {@code OPTIONS} answered here lists them. */
    private static final AsciiString ALLOW = AsciiString.cached("GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE");
    private static final AsciiString MESSAGE_HTTP = AsciiString.cached("message/http");
    /** Left out of a {@code TRACE} echo: credentials a page's script must not read back (RFC 9110 9.3.8). */
    private static final Set<String> SENSITIVE = Set.of("authorization", "proxy-authorization", "cookie");

    private MaxForwards() {
    }

    /** The hops this request may still be forwarded, or -1 when {@code Max-Forwards} does not apply to it. */
    static long of(HttpRequest request) {
        HttpMethod m = request.method();
        if (m != HttpMethod.OPTIONS && m != HttpMethod.TRACE) {
            return -1;
        }
        String v = request.headers().get(HttpHeaderNames.MAX_FORWARDS);
        if (v == null || v.isEmpty() || v.length() > 18) {
            return -1;
        }
        long n = 0;
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            n = n * 10 + (c - '0');
        }
        return n;
    }

    /**
     * The sidecar's own answer to a request with no hop left: {@code OPTIONS} gets {@code 200} with
     * {@code Allow}, {@code TRACE} gets the request head back as {@code message/http}, without its
     * credentials. The caller adds the trace headers and {@code Connection: close} when it closes.
     */
    static FullHttpResponse answer(ByteBufAllocator alloc, HttpRequest request) {
        if (request.method() == HttpMethod.OPTIONS) {
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, Unpooled.EMPTY_BUFFER);
            res.headers().set(HttpHeaderNames.ALLOW, ALLOW).setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
            return res;
        }
        StringBuilder head = new StringBuilder(256).append(request.method().name()).append(' ').append(request.uri())
                .append(' ').append(request.protocolVersion().text()).append("\r\n");
        for (Map.Entry<String, String> e : request.headers()) {
            if (!SENSITIVE.contains(e.getKey().toLowerCase(java.util.Locale.ROOT))) {
                head.append(e.getKey()).append(": ").append(e.getValue()).append("\r\n");
            }
        }
        head.append("\r\n");
        ByteBuf body = alloc.buffer(head.length()).writeBytes(head.toString().getBytes(StandardCharsets.ISO_8859_1));
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, body);
        res.headers().set(HttpHeaderNames.CONTENT_TYPE, MESSAGE_HTTP).setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
        return res;
    }

    /** Lowers the count on a request that goes on ({@code hops} from {@link #of}, above zero). */
    static void forward(HttpHeaders headers, long hops) {
        headers.set(HttpHeaderNames.MAX_FORWARDS, hops - 1);
    }
}

package io.outrigger.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;

/**
 * Builds the responses of {@link ProxyError}s: {@code {"error": "...", "service": "..."}}
 * with {@code Content-Type: application/json}, and {@code x-outrigger-breaker: open} on a
 * breaker rejection. Stateless and thread-safe.
 */
public final class HttpErrors {
    /** Marks a 503 that an open circuit breaker caused. */
    public static final AsciiString BREAKER_HEADER = AsciiString.cached("x-outrigger-breaker");
    private static final AsciiString OPEN = AsciiString.cached("open");

    private HttpErrors() {
    }

    /**
     * The error response; the caller adds trace headers and writes it.
     *
     * @param service the service the request was for, or null when unknown
     * @param close   whether the connection closes after the response
     */
    public static FullHttpResponse response(ByteBufAllocator alloc, ProxyError error, String service, boolean close) {
        StringBuilder json = new StringBuilder(64).append("{\"error\": ");
        JsonText.appendString(json, error.message());
        json.append(", \"service\": ");
        if (service == null) {
            json.append("null");
        } else {
            JsonText.appendString(json, service);
        }
        json.append("}\n");
        ByteBuf body = ByteBufUtil.writeUtf8(alloc, json);
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, error.status(), body);
        HttpHeaders h = res.headers();
        h.set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
        h.setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
        if (error == ProxyError.BREAKER_OPEN) {
            h.set(BREAKER_HEADER, OPEN);
        }
        if (close) {
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        return res;
    }
}

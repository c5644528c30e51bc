package io.outrigger.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;

import java.util.List;

/**
 * The request head an upstream instance gets: the caller's head, rewritten in place for the next hop.
 *
 * <pre>
 *   caller's head -> hop-by-hop headers and Expect dropped -> x-request-id + traceparent set
 *     -> Max-Forwards less one -> tracestate of a trace not continued dropped
 *     -> X-Forwarded-For + Via added -> HTTP/1.1, chunked again when the body is, else its length in plain digits
 * </pre>
 *
 * Static helpers without state: nothing is allocated beyond the header values. Called by
 * {@link ProxyExchange} on the client connection's event loop, which owns the request.
 */
final class ForwardedRequest {
    static final AsciiString TRACESTATE = AsciiString.cached("tracestate");
    static final AsciiString X_FORWARDED_FOR = AsciiString.cached("x-forwarded-for");

    private ForwardedRequest() {
    }

    /**
     * Turns {@code request}'s head into the one forwarded to the instance.
     *
     * @param request  the caller's request, whose head is changed in place
     * @param trace    the request's trace, read before the hop-by-hop strip: the caller's ids count even if it named them
     * @param hopsLeft the hops the request may still go ({@link MaxForwards#of}): above zero lowered by one,
     *                 negative when {@code Max-Forwards} does not apply; never zero (the sidecar answers that one itself)
     * @param chunked  whether the caller sent its body chunked: the next hop gets it chunked too
     * @param remoteIp the caller's address, appended to {@code X-Forwarded-For}
     * @param via      this hop's {@code Via} value
     */
    static void rewrite(HttpRequest request, RequestTrace trace, long hopsLeft, boolean chunked, String remoteIp, AsciiString via) {
        HttpHeaders h = request.headers();
        HopByHopHeaders.strip(h);
        h.remove(HttpHeaderNames.EXPECT);
        // Set after the strip, so a Connection header naming them cannot take them off the forwarded request.
        h.set(ProxyExchange.X_REQUEST_ID, trace.requestId()); // the one id kept: a second x-request-id would give the next hop another
        h.set(ProxyExchange.TRACEPARENT, trace.traceparent());
        if (hopsLeft > 0) {
            MaxForwards.forward(h, hopsLeft);
        }
        if (!trace.continued()) {
            h.remove(TRACESTATE); // vendor data of a trace this request no longer belongs to
        }
        h.set(X_FORWARDED_FOR, h.contains(X_FORWARDED_FOR) ? forwardedFor(h.getAll(X_FORWARDED_FOR), remoteIp) : remoteIp);
        h.add(HttpHeaderNames.VIA, via);
        request.setProtocolVersion(HttpVersion.HTTP_1_1);
        if (chunked) {
            HttpUtil.setTransferEncodingChunked(request, true);
        } else {
            plainContentLength(request);
        }
    }

    /**
     * Writes {@code message}'s {@code Content-Length}, if it has one, in plain digits, as the length its body is
     * framed by: {@code 010} as received is 8 to a parser that reads a leading 0 as octal (C's {@code strtol} with
     * base 0), and the body's last bytes would be a message of their own there. The decoder has checked the value.
     */
    static void plainContentLength(HttpMessage message) {
        String value = message.headers().get(HttpHeaderNames.CONTENT_LENGTH);
        if (value != null && !isPlainDigits(value)) {
            // Only then: a set moves the header to the end. Checked in place, as this runs for every response.
            HttpUtil.setContentLength(message, HttpUtil.getContentLength(message));
        }
    }

    /** Digits without a leading zero (but {@code 0} itself): how {@link Long#toString} writes a length. */
    private static boolean isPlainDigits(String value) {
        int n = value.length();
        if (n == 0 || n > 1 && value.charAt(0) == '0') {
            return false;
        }
        for (int i = 0; i < n; i++) {
            char c = value.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
        }
        return true;
    }

    /**
     * The caller's {@code X-Forwarded-For} with {@code remoteIp} appended. Several header lines are one
     * list (RFC 9110 5.3), so they are joined in order rather than all but the first dropped; empty
     * values add nothing.
     */
    static String forwardedFor(List<String> lines, String remoteIp) {
        StringBuilder joined = new StringBuilder(64);
        for (String line : lines) {
            String value = line.trim();
            if (!value.isEmpty()) {
                joined.append(value).append(", ");
            }
        }
        return joined.append(remoteIp).toString();
    }
}

package io.outrigger.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;

/**
 * What a decoded request must pass before it is routed, beyond what the codec checks (syntax,
 * header validity, framing): each failure is one {@link ProxyError}, answered by the sidecar, and
 * nothing of the request is forwarded. Stateless.
 */
final class RequestChecks {
    private RequestChecks() {
    }

    /**
     * The first problem of {@code request}, or null when there is none; read before
     * {@link HttpRoute#service} rewrites an absolute form.
     */
    static ProxyError problem(HttpRequest request, boolean chunked) {
        if (HttpMethod.CONNECT.equals(request.method())) {
            return ProxyError.CONNECT_UNSUPPORTED;
        }
        if (request.protocolVersion().majorVersion() != 1) {
            return ProxyError.HTTP_VERSION_NOT_SUPPORTED;
        }
        ProxyError target = target(request); // an https:// target, for one, would cross the wire in plain text
        if (target != null) {
            return target;
        }
        if (!isVisibleAscii(request.uri())) {
            // RFC 9112 3.2 / RFC 3986: a raw non-ASCII byte would be re-encoded on the way out, a control byte (DEL) read differently by the next parser
            return ProxyError.NON_ASCII_TARGET;
        }
        HttpHeaders h = request.headers();
        if (chunked && !HopByHopHeaders.onlyChunked(h)) {
            return ProxyError.UNSUPPORTED_TRANSFER_CODING;
        }
        if (h.getAll(HttpHeaderNames.HOST).size() > 1) {
            return ProxyError.MALFORMED_REQUEST; // RFC 9112 3.2: two Hosts could route one way and be served another
        }
        return null;
    }

    /**
     * What is wrong with the request's target and {@code Host}, or null when nothing is. The target
     * must be in origin form ({@code /path}), absolute form with the scheme {@code http} (any case) and
     * a host without user information (RFC 9110 4.2.1 and 4.2.4), or {@code *} for {@code OPTIONS}
     * (RFC 9112 3.2); a {@code Host} must be {@code host[:port]} (RFC 9112 3.2: anything else is a 400).
     */
    private static ProxyError target(HttpRequest request) {
        String uri = request.uri();
        if (uri.startsWith("/")) {
            // origin form
        } else if (uri.equals("*")) {
            if (!HttpMethod.OPTIONS.equals(request.method())) {
                return ProxyError.BAD_TARGET;
            }
        } else {
            int schemeEnd = uri.indexOf("://");
            if (schemeEnd <= 0) {
                return ProxyError.BAD_TARGET; // authority form (CONNECT only, refused before) or no form at all
            }
            if (schemeEnd != 4 || !uri.regionMatches(true, 0, "http", 0, 4)) {
                return ProxyError.UNSUPPORTED_SCHEME;
            }
            int authorityEnd = schemeEnd + 3;
            while (authorityEnd < uri.length() && "/?#".indexOf(uri.charAt(authorityEnd)) < 0) {
                authorityEnd++;
            }
            if (!validAuthority(uri, schemeEnd + 3, authorityEnd)) {
                return ProxyError.BAD_HOST;
            }
        }
        String host = request.headers().get(HttpHeaderNames.HOST);
        return host == null || host.isEmpty() || validAuthority(host, 0, host.length()) ? null : ProxyError.BAD_HOST;
    }

    /**
     * Whether {@code s[from, to)} is {@code host[:port]}: a host name of RFC 3986's reg-name characters
     * (no user information, no spaces), an IPv4 address, or an IPv6 address in brackets; a port of at
     * most five digits up to 65535 (empty allowed, as RFC 3986 does).
     */
    static boolean validAuthority(String s, int from, int to) {
        int i = from;
        if (i < to && s.charAt(i) == '[') {
            int close = s.indexOf(']', i);
            if (close < 0 || close >= to || close == i + 1) {
                return false;
            }
            for (i++; i < close; i++) {
                char c = s.charAt(i);
                if (!(Character.digit(c, 16) >= 0 || c == ':' || c == '.')) {
                    return false;
                }
            }
            i++;
        } else {
            for (; i < to && s.charAt(i) != ':'; i++) {
                char c = s.charAt(i);
                if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || "-._~!$&'()*+,;=%".indexOf(c) >= 0)) {
                    return false;
                }
            }
            if (i == from) {
                return false; // no host
            }
        }
        if (i == to) {
            return true;
        }
        if (s.charAt(i) != ':' || to - i - 1 > 5) {
            return false;
        }
        int port = 0;
        for (i++; i < to; i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
            port = port * 10 + (c - '0');
        }
        return port <= 65535;
    }

    private static boolean isVisibleAscii(String s) {
        for (int i = 0, n = s.length(); i < n; i++) {
            char c = s.charAt(i);
            if (c <= 0x20 || c >= 0x7f) {
                return false;
            }
        }
        return true;
    }
}

package io.outrigger.http;

import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The host[:port] rule for Host headers and absolute targets, and the bytes a target may hold, at their edges. */
class RequestChecksTest {
    @ParameterizedTest
    @ValueSource(strings = {"service-b", "service-b:8080", "SERVICE-B.", "svc:", "svc:0", "svc:65535", "127.0.0.1:80",
        "[::1]", "[::1]:8080", "[2001:db8::7]:1", "a%41b", "x_y~z", "a!$&'()*+,;=b"})
    void valid(String authority) {
        assertTrue(RequestChecks.validAuthority(authority, 0, authority.length()), authority);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", ":80", "svc:65536", "svc:123456", "svc:8o", "svc:80:80", "s v c", "svc/x", "user@svc",
        "svc?q", "[]", "[::1", "[::1]x", "[::1]:99999", "[fe80::1%eth0]", "caf\u00e9"})
    void invalid(String authority) {
        assertFalse(RequestChecks.validAuthority(authority, 0, authority.length()), authority);
    }

    @ParameterizedTest
    @ValueSource(strings = {"/a\u007fb", "/a\u0001b", "/caf\u00e9", "/tab\tx"})
    void aTargetWithARawByteOutsideVisibleAsciiIsRefused(String target) {
        assertEquals(ProxyError.NON_ASCII_TARGET, RequestChecks.problem(request(target), false), target);
    }

    @ParameterizedTest
    @ValueSource(strings = {"/", "/a%7Fb?q=caf%C3%A9", "/~user/x;y=1"})
    void aTargetOfVisibleAsciiPasses(String target) {
        assertNull(RequestChecks.problem(request(target), false), target);
    }

    private static HttpRequest request(String target) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, target, false);
        r.headers().set(HttpHeaderNames.HOST, "service-b");
        return r;
    }
}

package io.outrigger.http;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The host[:port] rule for Host headers and absolute targets, at its edges. */
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
}

package io.outrigger.discovery;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class EndpointTest {

    /** What a Host header and a URL need: {@code ::1:8500} is no authority, {@code [::1]:8500} is. */
    @Test
    void anIpv6LiteralIsBracketedInAnAuthority() {
        assertEquals("[::1]:8500", Endpoint.authority("::1", 8500));
        assertEquals("[fe80::1]:80", new Endpoint("fe80::1", 80).authority());
        assertEquals("[::1]:8500", Endpoint.authority("[::1]", 8500), "already bracketed");
        assertEquals("127.0.0.1:8500", Endpoint.authority("127.0.0.1", 8500));
        assertEquals("registry.local:8500", new Endpoint("registry.local", 8500).authority());
    }
}

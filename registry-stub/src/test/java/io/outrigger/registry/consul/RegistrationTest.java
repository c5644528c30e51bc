package io.outrigger.registry.consul;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class RegistrationTest {
    private static String withCheck(String check) {
        return "{\"Name\":\"s\",\"Address\":\"127.0.0.1\",\"Port\":80,\"Check\":" + check + "}";
    }

    @Test
    void aShortIntervalIsRaisedToTheMinimum() throws Exception {
        HttpCheck check = Registration.parse(withCheck("{\"HTTP\":\"http://127.0.0.1:80/health\",\"Interval\":\"1ms\"}")).check();
        assertEquals(Registration.MIN_CHECK_INTERVAL_MILLIS, check.intervalMillis());
        assertEquals(10_000, check.timeoutMillis(), "the default timeout, not the interval");
        assertEquals(50, Registration.parse(withCheck("{\"HTTP\":\"http://127.0.0.1/health\",\"Interval\":\"50ms\"}"))
                .check().intervalMillis(), "the tests' own 50 ms is kept");
    }

    @Test
    void checkUrlsAndTimeoutsAreRefusedWithTheValue() {
        Registration.Invalid port = assertThrows(Registration.Invalid.class,
                () -> Registration.parse(withCheck("{\"HTTP\":\"http://127.0.0.1:99999/health\",\"Interval\":\"1s\"}")));
        assertEquals("Check.HTTP: \"http://127.0.0.1:99999/health\" (expected: a port 1..65535)", port.getMessage());
        Registration.Invalid timeout = assertThrows(Registration.Invalid.class,
                () -> Registration.parse(withCheck("{\"HTTP\":\"http://127.0.0.1/health\",\"Interval\":\"1s\",\"Timeout\":\"soon\"}")));
        assertEquals("Check.Timeout: \"soon\" (expected: a duration such as 10s, 500ms or 1m)", timeout.getMessage());
    }

    /** Consul's HTTP check takes a Timeout of 0 as none given: the default, 10s. */
    @Test
    void aTimeoutOfZeroIsTheDefaultAsInConsul() throws Exception {
        for (String zero : new String[] {"0", "0s", "0ms"}) {
            HttpCheck check = Registration.parse(withCheck("{\"HTTP\":\"http://127.0.0.1/health\",\"Interval\":\"1m\",\"Timeout\":\""
                    + zero + "\"}")).check();
            assertEquals(10_000, check.timeoutMillis(), zero);
        }
    }

    /**
     * Consul takes Go durations, signed ones too: a negative Timeout is none given (10s), a negative
     * DeregisterCriticalServiceAfter none (never removed), and a negative Interval is refused like a zero one.
     */
    @Test
    void negativeDurationsMeanWhatTheyMeanToConsul() throws Exception {
        HttpCheck check = Registration.parse(withCheck("{\"HTTP\":\"http://127.0.0.1/health\",\"Interval\":\"1s\",\"Timeout\":\"-1s\","
                + "\"DeregisterCriticalServiceAfter\":\"-1m\"}")).check();
        assertEquals(10_000, check.timeoutMillis());
        assertEquals(0, check.deregisterAfterMillis());
        Registration.Invalid interval = assertThrows(Registration.Invalid.class,
                () -> Registration.parse(withCheck("{\"HTTP\":\"http://127.0.0.1/health\",\"Interval\":\"-1s\"}")));
        assertEquals("Check.Interval: \"-1s\" (expected: a duration > 0)", interval.getMessage());
    }

    /** Consul's CheckType decoding takes a number for a duration, as nanoseconds (Go's time.Duration). */
    @Test
    void aNumericDurationIsNanosecondsAsInConsul() throws Exception {
        HttpCheck check = Registration.parse(withCheck("{\"HTTP\":\"http://127.0.0.1/health\",\"Interval\":10000000000,"
                + "\"Timeout\":2.5e9,\"DeregisterCriticalServiceAfter\":60000000000}")).check();
        assertEquals(10_000, check.intervalMillis());
        assertEquals(2_500, check.timeoutMillis());
        assertEquals(60_000, check.deregisterAfterMillis());
        Registration.Invalid zero = assertThrows(Registration.Invalid.class,
                () -> Registration.parse(withCheck("{\"HTTP\":\"http://127.0.0.1/health\",\"Interval\":0}")));
        assertEquals("Check.Interval: 0 (expected: a duration > 0)", zero.getMessage());
        Registration.Invalid type = assertThrows(Registration.Invalid.class,
                () -> Registration.parse(withCheck("{\"HTTP\":\"http://127.0.0.1/health\",\"Interval\":true}")));
        assertEquals("Check.Interval: true (expected: a non-empty string)", type.getMessage());
    }

    /** Since Consul 1.6 (hashicorp/consul#6094) a check's timeout is the one given, or 10s, whatever the interval. */
    @Test
    void theTimeoutIsNotCappedAtTheIntervalAsInConsul() throws Exception {
        assertEquals(5_000, Registration.parse(withCheck("{\"HTTP\":\"http://127.0.0.1/health\",\"Interval\":\"1s\",\"Timeout\":\"5s\"}"))
                .check().timeoutMillis());
        assertEquals(10_000, Registration.parse(withCheck("{\"HTTP\":\"http://127.0.0.1/health\",\"Interval\":\"1s\"}"))
                .check().timeoutMillis());
    }

    @Test
    void aBodyThatIsNotJsonIsRefusedInOneLineWithWhereItBroke() {
        // Jackson's own words named "[Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); ...]".
        Registration.Invalid cut = assertThrows(Registration.Invalid.class, () -> Registration.parse("{\"Name\": \"s\""));
        assertEquals("request body is not valid JSON: Unexpected end-of-input: expected close marker for Object (line 1, column 13)",
                cut.getMessage());
    }
}

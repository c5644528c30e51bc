package io.outrigger.jsonline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Typed reads of body fields; a field of the wrong type or out of range throws a
 * {@link JsonLineException#malformed malformed-request} error naming the field, the value and
 * what was expected. An absent field or JSON {@code null} reads as the default.
 */
final class Fields {
    private static final int MAX_VALUE_CHARS = 60;

    /**
     * The longest name a message may give a service the registry does not list: 253 characters, a DNS name's limit.
     * Such a name becomes a breaker or an instance's health state, kept for the life of the process and written in
     * log lines; up to a line (1 MiB) long, the 1024 of each that callers may create could hold a gigabyte.
     */
    static final int MAX_UNLISTED_SERVICE_CHARS = 253;

    private Fields() {
    }

    /** Refuses (code 12) a name longer than {@link #MAX_UNLISTED_SERVICE_CHARS} for a service the registry does not list. */
    static void checkServiceName(String service, boolean listed) {
        if (!listed && service.length() > MAX_UNLISTED_SERVICE_CHARS) {
            throw JsonLineException.malformed("service: " + service.length() + " characters (expected: at most "
                    + MAX_UNLISTED_SERVICE_CHARS + " for a service the registry does not list)");
        }
    }

    static String optionalString(ObjectNode body, String name) {
        JsonNode v = body.get(name);
        if (absent(v)) {
            return null;
        }
        if (!v.isTextual()) {
            throw wrong(name, v, "a string");
        }
        return v.textValue();
    }

    static String requiredString(ObjectNode body, String name) {
        String s = optionalString(body, name);
        if (s == null) {
            throw JsonLineException.malformed(name + ": missing (expected: a string)");
        }
        return s;
    }

    static boolean optionalBoolean(ObjectNode body, String name) {
        JsonNode v = body.get(name);
        if (absent(v)) {
            return false;
        }
        if (!v.isBoolean()) {
            throw wrong(name, v, "true or false");
        }
        return v.booleanValue();
    }

    static boolean requiredBoolean(ObjectNode body, String name) {
        if (absent(body.get(name))) {
            throw JsonLineException.malformed(name + ": missing (expected: true or false)");
        }
        return optionalBoolean(body, name);
    }

    static long optionalLong(ObjectNode body, String name, long defaultValue, long min, long max) {
        JsonNode v = body.get(name);
        if (absent(v)) {
            return defaultValue;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < min || v.longValue() > max) {
            throw wrong(name, v, "an integer " + min + ".." + max);
        }
        return v.longValue();
    }

    static int optionalInt(ObjectNode body, String name, int defaultValue, int min, int max) {
        return (int) optionalLong(body, name, defaultValue, min, max);
    }

    static int requiredInt(ObjectNode body, String name, int min, int max) {
        if (absent(body.get(name))) {
            throw JsonLineException.malformed(name + ": missing (expected: an integer " + min + ".." + max + ")");
        }
        return optionalInt(body, name, 0, min, max);
    }

    static boolean present(ObjectNode body, String name) {
        return !absent(body.get(name));
    }

    /** A JSON value for an error text, cut short when long. */
    static String show(JsonNode v) {
        return cut(v.toString());
    }

    /** A string for an error text, cut short when long. */
    static String cut(String s) {
        return s.length() <= MAX_VALUE_CHARS ? s : s.substring(0, MAX_VALUE_CHARS) + "...";
    }

    private static boolean absent(JsonNode v) {
        return v == null || v.isNull();
    }

    private static JsonLineException wrong(String name, JsonNode v, String expected) {
        return JsonLineException.malformed(name + ": " + show(v) + " (expected: " + expected + ")");
    }
}

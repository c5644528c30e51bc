package io.outrigger.discovery;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A registry file corrupted at random (a fixed seed): bytes replaced, cut or doubled, values swapped
 * for ones of the wrong type or range. Each must load or fail with a {@link RegistryException}
 * whose message is one line naming the file, never with another exception.
 */
class FileRegistryFuzzTest {
    private static final long SEED = 20261130L;
    private static final int CASES = 3000;
    private static final String REGISTRY = "{\"services\": {\n"
            + "  \"service-b\": [ { \"host\": \"127.0.0.1\", \"port\": 9001 }, { \"host\": \"::1\", \"port\": 9002 } ],\n"
            + "  \"service-c\": [ { \"host\": \"localhost\", \"port\": 7 } ]\n"
            + "}}\n";
    private static final String[] VALUES = {
        "-1", "0", "65536", "1e400", "1.5", "\"x\"", "\"\"", "null", "true", "[]", "{}", "[1]", "\"\\u0000\"", "\"a b\"",
        "99999999999999999999", "\"999.1.1.1\"", "\"[::1]\"", "\"host:1\"",
    };
    private static final String SHARP = "{}[],:\"\\ \n\t0-";

    @Test
    void everyCorruptedRegistryLoadsOrFailsWithOneClearLine() {
        Random r = new Random(SEED);
        Map<String, Integer> outcomes = new TreeMap<>();
        for (int i = 0; i < CASES; i++) {
            String json = mutate(r, REGISTRY);
            try {
                FileRegistry.parse(new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)), "case.json");
                outcomes.merge("loaded", 1, Integer::sum);
            } catch (RegistryException e) {
                String message = e.getMessage();
                assertTrue(message != null && message.contains("case.json"), "names the file: " + message + "\n" + json);
                assertFalse(message.contains("\n") || message.contains("\r"), "one line: " + message + "\n" + json);
                outcomes.merge("refused", 1, Integer::sum);
            } catch (Exception e) {
                fail("case " + i + ": " + e + " instead of a RegistryException for:\n" + json, e);
            }
        }
        System.err.println("corrupted-registry outcomes: " + outcomes);
        assertTrue(outcomes.getOrDefault("loaded", 0) > CASES / 50, "some corruptions are harmless: " + outcomes);
        assertTrue(outcomes.getOrDefault("refused", 0) > CASES / 2, "most are refused: " + outcomes);
    }

    private static String mutate(Random r, String s) {
        int ops = 1 + r.nextInt(2);
        for (int k = 0; k < ops; k++) {
            int at = r.nextInt(s.length());
            switch (r.nextInt(4)) {
                case 0 -> s = s.substring(0, at) + SHARP.charAt(r.nextInt(SHARP.length())) + s.substring(Math.min(s.length(), at + 1));
                case 1 -> s = s.substring(0, at) + s.substring(Math.min(s.length(), at + 1 + r.nextInt(6)));
                case 2 -> {
                    int end = Math.min(s.length(), at + 1 + r.nextInt(12));
                    s = s.substring(0, end) + s.substring(at, end) + s.substring(end);
                }
                default -> {
                    // a value after a colon, swapped for another
                    int colon = s.indexOf(": ", at);
                    if (colon < 0) {
                        colon = s.indexOf(": ");
                    }
                    int from = colon + 2;
                    int to = from;
                    while (to < s.length() && ",}]\n".indexOf(s.charAt(to)) < 0 && s.charAt(to) != ' ') {
                        to++;
                    }
                    s = s.substring(0, from) + VALUES[r.nextInt(VALUES.length)] + s.substring(to);
                }
            }
        }
        return s;
    }
}

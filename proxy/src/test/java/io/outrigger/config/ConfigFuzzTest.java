package io.outrigger.config;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The documented example config corrupted at random (a fixed seed, so a failure replays): a value
 * swapped for one of the wrong type, size or shape, a line dropped, doubled or shifted, a stray
 * character. Each must load, or fail with a {@link ConfigException} whose message is one line
 * naming the source, never with another exception (which the CLI would show as a crash).
 */
class ConfigFuzzTest {
    private static final long SEED = 20261130L;
    private static final int CASES = 2000;
    private static final String[] VALUES = {
        "-1", "0", "1", "65536", "99999999999999999999", "1.5", "abc", "''", "\"\"", "null", "~", "true",
        "[1, 2]", "[]", "{a: 1}", "{}", "0x10", ".inf", "1e3", "file:", "http://", "127.0.0.1:", ":80",
        "\"\\u0000\"", "&a x", "*a", "!!binary AAAA", "- x", "{ port: -5 }", "[ { port: 1 } ]", "[ { } ]",
    };
    /** A value after a key: "key: value" or "key: value" inside a flow mapping, up to a comma, brace or comment. */
    private static final Pattern VALUE = Pattern.compile(":[ ]+([^,{}\\[\\]#\\n][^,{}\\[\\]#\\n]*?)(?=\\s*(?:[,}\\]#\\n]|$))");

    @Test
    void everyCorruptedConfigLoadsOrFailsWithOneClearLine() throws Exception {
        String example = Files.readString(Path.of("..", "config", "sidecar.yaml"));
        Random random = new Random(SEED);
        Map<String, Integer> outcomes = new TreeMap<>();
        for (int i = 0; i < CASES; i++) {
            String yaml = mutate(random, example);
            try {
                ConfigLoader.parse(yaml, "case.yaml");
                outcomes.merge("loaded", 1, Integer::sum);
            } catch (ConfigException e) {
                String message = e.getMessage();
                assertTrue(message != null && message.startsWith("case.yaml"), "names the source: " + message + "\n" + yaml);
                assertFalse(message.contains("\n") || message.contains("\r"), "one line: " + message + "\n" + yaml);
                outcomes.merge("refused", 1, Integer::sum);
            } catch (RuntimeException e) {
                fail("case " + i + ": " + e + " instead of a ConfigException for:\n" + yaml, e);
            }
        }
        System.err.println("corrupted-config outcomes: " + outcomes);
        assertTrue(outcomes.getOrDefault("loaded", 0) > CASES / 20, "some corruptions are harmless: " + outcomes);
        assertTrue(outcomes.getOrDefault("refused", 0) > CASES / 2, "most are refused: " + outcomes);
    }

    private static String mutate(Random r, String text) {
        String s = text;
        int ops = 1 + r.nextInt(2);
        for (int k = 0; k < ops; k++) {
            List<String> lines = new ArrayList<>(List.of(s.split("\n", -1)));
            int at = r.nextInt(lines.size());
            switch (r.nextInt(6)) {
                case 0, 1, 2 -> s = replaceValue(r, s);
                case 3 -> {
                    lines.remove(at);
                    s = String.join("\n", lines);
                }
                case 4 -> {
                    String line = lines.get(at);
                    lines.set(at, r.nextBoolean() ? "  " + line : line.stripLeading());
                    if (r.nextBoolean()) {
                        lines.add(at, line);
                    }
                    s = String.join("\n", lines);
                }
                default -> {
                    int pos = r.nextInt(s.length() + 1);
                    char c = ":-{}[],#&*!|>'\"%@`\t".charAt(r.nextInt(19));
                    s = s.substring(0, pos) + c + s.substring(pos);
                }
            }
        }
        return s;
    }

    private static String replaceValue(Random r, String s) {
        Matcher m = VALUE.matcher(s);
        List<int[]> spans = new ArrayList<>();
        while (m.find()) {
            spans.add(new int[] {m.start(1), m.end(1)});
        }
        int[] span = spans.get(r.nextInt(spans.size()));
        return s.substring(0, span[0]) + VALUES[r.nextInt(VALUES.length)] + s.substring(span[1]);
    }
}

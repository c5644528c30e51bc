package io.outrigger.jsonline;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.outrigger.SidecarContext;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.time.Ticker;

import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Helpers for line-JSON tests: a node over the embedded registry, lines in and out of an EmbeddedChannel. */
public final class JsonLineTesting {
    /** A canonical 8-4-4-4-12 lower-case hex UUID. */
    public static final String UUID_REGEX = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

    private JsonLineTesting() {
    }

    public static JsonLineNode node() {
        return node(Ticker.system(), null);
    }

    public static JsonLineNode node(Ticker ticker, String name) {
        return new JsonLineNode(new SidecarContext(SidecarConfig.defaults(), FileRegistry.embedded(), ticker), name, 5_000);
    }

    public static EmbeddedChannel channel(JsonLineNode node) {
        return new EmbeddedChannel(new JsonLineInitializer(node, true));
    }

    /** Writes one line (a newline is added) and returns the reply written at once, or null. */
    public static String exchange(EmbeddedChannel ch, String line) {
        ch.writeInbound(Unpooled.copiedBuffer(line + "\n", StandardCharsets.UTF_8));
        return readReply(ch);
    }

    /** The next reply line without its newline, or null when none was written. */
    public static String readReply(EmbeddedChannel ch) {
        ch.runPendingTasks();
        ByteBuf b = ch.readOutbound();
        if (b == null) {
            return null;
        }
        try {
            String s = b.toString(StandardCharsets.UTF_8);
            assertTrue(s.endsWith("\n") && s.indexOf('\n') == s.length() - 1, "one line per reply: " + s);
            return s.substring(0, s.length() - 1);
        } finally {
            b.release();
        }
    }

    /** Asserts a reply equals {@code expected} exactly, where each {@code <uuid>} in it matches any UUID. */
    public static void assertReply(String expected, String actual) {
        String[] parts = expected.split("<uuid>", -1);
        StringBuilder regex = new StringBuilder();
        for (int i = 0; i < parts.length; i++) {
            if (i > 0) {
                regex.append(UUID_REGEX);
            }
            regex.append(Pattern.quote(parts[i]));
        }
        assertTrue(actual != null && actual.matches(regex.toString()), "expected " + expected + "\n but got " + actual);
    }
}

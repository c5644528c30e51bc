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

    /**
     * Lines that are not UTF-8 between good ones, as a client of either edge would write them: {@code init} 1;
     * {@code init} 2 in UTF-16LE after its byte order mark {@code FF FE}; {@code init} 3 in UTF-16BE without one
     * (Jackson, given bytes, guesses UTF-16 from the zero bytes); {@code discover} 4, 5 and 6 whose service
     * holds an overlong {@code /} ({@code C0 AF}), an encoded surrogate ({@code ED A0 80}) and a code point past
     * U+10FFFF ({@code F4 90 80 80}); {@code init} 7 after a UTF-8 byte order mark (tolerated); {@code init} 8.
     * {@link #REPLIES_TO_INVALID_UTF8} are the replies, in order.
     */
    public static byte[] linesWithInvalidUtf8() {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        b.writeBytes(init(1).getBytes(StandardCharsets.UTF_8));
        b.writeBytes(new byte[] {(byte) 0xFF, (byte) 0xFE});
        b.writeBytes(init(2).getBytes(StandardCharsets.UTF_16LE));
        b.writeBytes(init(3).getBytes(StandardCharsets.UTF_16BE));
        b.writeBytes(discoverWith(4, 0xC0, 0xAF));
        b.writeBytes(discoverWith(5, 0xED, 0xA0, 0x80));
        b.writeBytes(discoverWith(6, 0xF4, 0x90, 0x80, 0x80));
        b.writeBytes(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF});
        b.writeBytes(init(7).getBytes(StandardCharsets.UTF_8));
        b.writeBytes(init(8).getBytes(StandardCharsets.UTF_8));
        return b.toByteArray();
    }

    private static final String DISCOVER_HEAD = "{\"src\":\"c\",\"dest\":\"n\",\"body\":{\"type\":\"discover\",\"msg_id\":%d,\"service\":\"service";

    /** The replies to {@link #linesWithInvalidUtf8()}; each bad line also writes one line on stderr. */
    public static final java.util.List<String> REPLIES_TO_INVALID_UTF8 = java.util.List.of(
            "{\"src\":\"n\",\"dest\":\"c\",\"body\":{\"type\":\"init_ok\",\"in_reply_to\":1,\"msg_id\":0}}",
            notUtf8(4, 0xC0), notUtf8(5, 0xED), notUtf8(6, 0xF4),
            "{\"src\":\"n\",\"dest\":\"c\",\"body\":{\"type\":\"init_ok\",\"in_reply_to\":7,\"msg_id\":1}}",
            "{\"src\":\"n\",\"dest\":\"c\",\"body\":{\"type\":\"init_ok\",\"in_reply_to\":8,\"msg_id\":2}}");

    private static String init(int msgId) {
        return "{\"src\":\"c\",\"dest\":\"n\",\"body\":{\"type\":\"init\",\"msg_id\":" + msgId + "}}\n";
    }

    private static byte[] discoverWith(int msgId, int... bad) {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        b.writeBytes(String.format(DISCOVER_HEAD, msgId).getBytes(StandardCharsets.UTF_8));
        for (int x : bad) {
            b.write(x);
        }
        b.writeBytes("-b\"}}\n".getBytes(StandardCharsets.UTF_8));
        return b.toByteArray();
    }

    private static String notUtf8(int msgId, int firstBadByte) {
        return "{\"src\":\"n\",\"dest\":\"c\",\"body\":{\"type\":\"error\",\"in_reply_to\":" + msgId + ",\"code\":12,"
                + "\"text\":\"not valid UTF-8 (byte 0x" + Integer.toHexString(firstBadByte).toUpperCase(java.util.Locale.ROOT)
                + " at offset " + String.format(DISCOVER_HEAD, msgId).length() + ")\"}}";
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

package io.outrigger.jsonline;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static io.outrigger.jsonline.JsonLineTesting.exchange;
import static io.outrigger.jsonline.JsonLineTesting.readReply;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every kind of bad input gets its error (or, with no msg_id to answer, none) and the next line is still served. */
class BadInputTest {
    private static final String NEXT = "{\"src\":\"c0\",\"dest\":\"n1\",\"body\":{\"type\":\"init\",\"msg_id\":99}}";
    private static final String NEXT_REPLY = "{\"src\":\"n1\",\"dest\":\"c0\",\"body\":{\"type\":\"init_ok\",\"in_reply_to\":99,\"msg_id\":0}}";

    private final EmbeddedChannel ch = JsonLineTesting.channel(JsonLineTesting.node());

    @AfterEach
    void release() {
        assertTrue(ch.isActive(), "bad input never closes the channel");
        assertFalse(ch.finishAndReleaseAll());
    }

    private void assertNextLineServed() {
        assertEquals(NEXT_REPLY, exchange(ch, NEXT));
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "not json at all",
            "[1,2,3]",
            "\"a string\"",
            "42",
            "null",
            "{\"src\":\"a\",\"dest\":\"b\"}",
            "{\"src\":\"a\",\"dest\":\"b\",\"body\":\"x\"}",
            "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"call\"}}",
            "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"call\",\"msg_id\":\"a\"}}",
            "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"call\",\"msg_id\":1.5}}",
            "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"call\",\"msg_id\":99999999999999999999999}}",
            "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"call\",\"msg_id\":9223372036854775808}}",
            "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"init\",\"msg_id\":9.223372036854775808e18}}",
            "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"discover\",\"msg_id\":\"7\",\"service\":\"s\"}}",
            "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"init\",\"msg_id\":true}}",
            "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"init\",\"msg_id\":1e-3}}",
            "{\"src\":\"a\",\"body\":{\"type\":\"call\",",
    })
    void withoutAReadableMsgIdNothingIsAnswered(String line) {
        assertNull(exchange(ch, line));
        assertNextLineServed();
    }

    /**
     * line-json.md: blank lines are ignored. A line of a UTF-8 byte order mark (skipped at the start of any line)
     * and white space is blank too: not a malformed line with its stderr warning ("no JSON value").
     */
    @ParameterizedTest
    @ValueSource(strings = {"", " \t ", "\r"})
    void aByteOrderMarkAndWhiteSpaceIsABlankLine(String rest) {
        byte[] bom = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};
        ByteBuf line = Unpooled.buffer().writeBytes(bom).writeBytes(rest.getBytes(StandardCharsets.US_ASCII));
        try {
            assertNull(JsonLineEnvelopeDecoder.decode(line));
        } finally {
            line.release();
        }
        ch.writeInbound(Unpooled.buffer().writeBytes(bom).writeBytes((rest + "\n").getBytes(StandardCharsets.US_ASCII)));
        assertNull(readReply(ch));
        assertNextLineServed();
    }

    /** Unanswered, but what the log says about a msg_id must not read as "an integer, expected an integer". */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "9223372036854775808     | body.msg_id: 9223372036854775808 (expected: an integer from -9223372036854775808 to 9223372036854775807)",
            "9.223372036854775808e18 | body.msg_id: 9223372036854775808 (expected: an integer from -9223372036854775808 to 9223372036854775807)",
            "1e400                   | body.msg_id: 1E+400 (expected: an integer from -9223372036854775808 to 9223372036854775807)",
            "1.5                     | body.msg_id: 1.5 (expected: an integer, written without a fraction or an exponent)",
            "\"7\"                   | body.msg_id: \"7\" (expected: an integer)",
    })
    void anUnreadableMsgIdIsDescribedForWhatItIs(String written, String problem) {
        ByteBuf line = Unpooled.copiedBuffer("{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"call\",\"msg_id\":" + written + "}}",
                StandardCharsets.UTF_8);
        try {
            assertEquals(new BadLine("a", "b", null, problem), JsonLineEnvelopeDecoder.decode(line));
        } finally {
            line.release();
        }
    }

    /**
     * A msg_id that is a number with an integral value in the 64-bit range, but not written as an integer, is
     * malformed and answered (code 12) with that value, whatever the type and also from a broken line.
     */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "call     | 8.0                   | 8                    | 8.0",
            "discover | 1e3                   | 1000                 | 1E+3",
            "init     | 1E+3                  | 1000                 | 1E+3",
            "call     | -2.00                 | -2                   | -2.00",
            "init     | 80e-1                 | 8                    | 8.0",
            "discover | -0.0                  | 0                    | 0.0",
            "init     | 9.223372036854775807e18 | 9223372036854775807 | 9223372036854775807",
    })
    void aMsgIdWithAnIntegralValueNotWrittenAsAnIntegerIsAnswered(String type, String written, String read, String shown) {
        assertEquals("{\"src\":\"b\",\"dest\":\"a\",\"body\":{\"type\":\"error\",\"in_reply_to\":" + read + ",\"code\":12,"
                        + "\"text\":\"body.msg_id: " + shown + " (expected: an integer, written without a fraction or an exponent)\"}}",
                exchange(ch, "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"" + type + "\",\"msg_id\":" + written
                        + ",\"service\":\"service-b\"}}"));
        assertNextLineServed();
        assertEquals("{\"src\":\"b\",\"dest\":\"a\",\"body\":{\"type\":\"error\",\"in_reply_to\":" + read + ",\"code\":12,"
                        + "\"text\":\"not valid JSON (Unexpected end-of-input: expected close marker for Object"
                        + " (start marker at [line: 1, column: 1]))\"}}",
                exchange(ch, "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"" + type + "\",\"msg_id\":" + written + "}"),
                "the same msg_id read from a line cut short");
    }

    @Test
    void brokenJsonStillAnswersWhenTheMsgIdWasRead() {
        assertEquals("{\"src\":\"b\",\"dest\":\"a\",\"body\":{\"type\":\"error\",\"in_reply_to\":11,\"code\":12,"
                        + "\"text\":\"not valid JSON (Unexpected character ('b' (code 98)): was expecting double-quote to start field name)\"}}",
                exchange(ch, "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"call\",\"msg_id\":11, broken"));
        assertNextLineServed();
    }

    @Test
    void aCutOffLineNamesWhereTheObjectStartedWithoutJacksonsSourceNote() {
        assertEquals("{\"src\":\"n\",\"dest\":\"c\",\"body\":{\"type\":\"error\",\"in_reply_to\":12,\"code\":12,"
                        + "\"text\":\"not valid JSON (Unexpected end-of-input: expected close marker for Object"
                        + " (start marker at [line: 1, column: 1]))\"}}",
                exchange(ch, "{\"src\":\"c\",\"dest\":\"n\",\"body\":{\"type\":\"discover\",\"msg_id\":12}"));
        assertNextLineServed();
    }

    @Test
    void trailingGarbageIsNotJson() {
        String reply = exchange(ch, "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"init\",\"msg_id\":3}} extra");
        assertTrue(reply.startsWith("{\"src\":\"b\",\"dest\":\"a\",\"body\":{\"type\":\"error\",\"in_reply_to\":3,\"code\":12,\"text\":\"not valid JSON"), reply);
        assertNextLineServed();
    }

    @Test
    void missingTypeIsMalformed() {
        assertEquals("{\"src\":\"b\",\"dest\":\"a\",\"body\":{\"type\":\"error\",\"in_reply_to\":4,\"code\":12,\"text\":\"body.type: missing (expected: a string)\"}}",
                exchange(ch, "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"msg_id\":4}}"));
        assertEquals("{\"src\":\"b\",\"dest\":\"a\",\"body\":{\"type\":\"error\",\"in_reply_to\":5,\"code\":12,\"text\":\"body.type: 7 (expected: a string)\"}}",
                exchange(ch, "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":7,\"msg_id\":5}}"));
        assertNextLineServed();
    }

    @Test
    void unknownTypeIsNotSupported() {
        assertEquals("{\"src\":\"b\",\"dest\":\"a\",\"body\":{\"type\":\"error\",\"in_reply_to\":9,\"code\":10,\"text\":\"unsupported type: zz\"}}",
                exchange(ch, "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"zz\",\"msg_id\":9}}"));
        assertNextLineServed();
    }

    @Test
    void wrongFieldTypesAreMalformed() {
        assertEquals("{\"src\":\"b\",\"dest\":\"a\",\"body\":{\"type\":\"error\",\"in_reply_to\":10,\"code\":12,\"text\":\"force_failures: \\\"x\\\" (expected: an integer 0..10000)\"}}",
                exchange(ch, "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"call\",\"msg_id\":10,\"force_failures\":\"x\"}}"));
        assertEquals("{\"src\":\"b\",\"dest\":\"a\",\"body\":{\"type\":\"error\",\"in_reply_to\":11,\"code\":12,\"text\":\"state: \\\"ajar\\\" (expected: closed, open or half_open)\"}}",
                exchange(ch, "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"call\",\"msg_id\":11,\"state\":\"ajar\"}}"));
        assertEquals("{\"src\":\"b\",\"dest\":\"a\",\"body\":{\"type\":\"error\",\"in_reply_to\":12,\"code\":12,\"text\":\"retries: -1 (expected: an integer 0..20)\"}}",
                exchange(ch, "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"call\",\"msg_id\":12,\"retries\":-1}}"));
        assertEquals("{\"src\":\"b\",\"dest\":\"a\",\"body\":{\"type\":\"error\",\"in_reply_to\":13,\"code\":12,\"text\":\"circuit_breaker: \\\"yes\\\" (expected: true or false)\"}}",
                exchange(ch, "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"call\",\"msg_id\":13,\"circuit_breaker\":\"yes\"}}"));
        assertEquals("{\"src\":\"b\",\"dest\":\"a\",\"body\":{\"type\":\"error\",\"in_reply_to\":14,\"code\":12,\"text\":\"port: 70000 (expected: an integer 1..65535)\"}}",
                exchange(ch, "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"health\",\"msg_id\":14,\"service\":\"s\",\"host\":\"h\",\"port\":70000,\"healthy\":true}}"));
        assertEquals("{\"src\":\"b\",\"dest\":\"a\",\"body\":{\"type\":\"error\",\"in_reply_to\":114,\"code\":12,\"text\":\"host: \\\"a b\\\" (expected: a host name or IP address)\"}}",
                exchange(ch, "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"health\",\"msg_id\":114,\"service\":\"s\",\"host\":\"a b\",\"port\":1,\"healthy\":true}}"));
        assertEquals("{\"src\":\"b\",\"dest\":\"a\",\"body\":{\"type\":\"error\",\"in_reply_to\":15,\"code\":12,\"text\":\"service: missing (expected: a string)\"}}",
                exchange(ch, "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"discover\",\"msg_id\":15}}"));
        assertEquals("{\"src\":\"b\",\"dest\":null,\"body\":{\"type\":\"error\",\"in_reply_to\":16,\"code\":12,\"text\":\"src: 5 (expected: a string)\"}}",
                exchange(ch, "{\"src\":5,\"dest\":\"b\",\"body\":{\"type\":\"init\",\"msg_id\":16}}"));
        assertNextLineServed();
    }

    /**
     * A line over the limit is rejected with code 12 (spec: "a longer line is rejected with code 12 and skipped")
     * however late its msg_id comes, here after 2 MiB of padding and cut in two by the reads ({@code 12|345}); its
     * dest, the reply's src, comes after the body. A msg_id that is not an integer ({@code 12.5}) is not answered.
     */
    @ParameterizedTest
    @CsvSource({"12345, 12345", "12.5, "})
    void aMsgIdAnywhereInALineOverTheLimitIsAnswered(String msgId, Long answered) {
        String start = "{\"src\":\"a\",\"body\":{\"type\":\"init\",\"pad\":\"";
        String beforeId = "\",\"msg_id\":";
        int read = 65536;
        char[] pad = new char[32 * read - start.length() - beforeId.length() - 2]; // a read ends after the first 2 digits
        Arrays.fill(pad, 'x');
        String big = start + new String(pad) + beforeId + msgId + ",\"more\":[{\"msg_id\":1}]},\"dest\":\"b\"}\n";
        ByteBuf bytes = Unpooled.copiedBuffer(big, StandardCharsets.UTF_8);
        while (bytes.isReadable()) {
            ch.writeInbound(bytes.readRetainedSlice(Math.min(read, bytes.readableBytes())));
        }
        bytes.release();
        assertEquals(answered == null ? null : "{\"src\":\"b\",\"dest\":\"a\",\"body\":{\"type\":\"error\",\"in_reply_to\":" + answered
                + ",\"code\":12,\"text\":\"line of " + (big.length() - 1) + " bytes is longer than the limit of 1048576 bytes\"}}", readReply(ch));
        assertNextLineServed();
    }

    /**
     * A msg_id of a line over the limit whose digits end with a read, followed in the next by a byte no number holds,
     * ends there, as in a broken line within the limit: it is answered.
     */
    @Test
    void aMsgIdEndingBeforeAByteNoNumberHoldsInALineOverTheLimitIsAnswered() {
        String start = "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"init\",\"pad\":\"";
        String beforeId = "\",\"msg_id\":";
        char[] pad = new char[65536 - start.length() - beforeId.length() - 2]; // the first read ends after "12"
        Arrays.fill(pad, 'x');
        char[] rest = new char[JsonLineFrameDecoder.DEFAULT_MAX_LINE_BYTES];
        Arrays.fill(rest, 'y');
        String big = start + new String(pad) + beforeId + "12\u00e9" + new String(rest) + "}}\n";
        ByteBuf bytes = Unpooled.copiedBuffer(big, StandardCharsets.UTF_8);
        int length = bytes.readableBytes() - 1;
        while (bytes.isReadable()) {
            ch.writeInbound(bytes.readRetainedSlice(Math.min(65536, bytes.readableBytes())));
        }
        bytes.release();
        assertEquals("{\"src\":\"b\",\"dest\":\"a\",\"body\":{\"type\":\"error\",\"in_reply_to\":12,\"code\":12,"
                + "\"text\":\"line of " + length + " bytes is longer than the limit of 1048576 bytes\"}}", readReply(ch));
        assertNextLineServed();
    }

    @Test
    void aTwoMebibyteLineIsRejectedAndSkipped() {
        char[] filler = new char[2 << 20];
        Arrays.fill(filler, 'x');
        String big = "{\"src\":\"a\",\"dest\":\"b\",\"body\":{\"type\":\"call\",\"msg_id\":21,\"path\":\"" + new String(filler) + "\"}}\n";
        ByteBuf bytes = Unpooled.copiedBuffer(big + NEXT + "\n", StandardCharsets.UTF_8);
        // Arrives in 64 KiB pieces, as from a socket or a pipe.
        while (bytes.isReadable()) {
            ch.writeInbound(bytes.readRetainedSlice(Math.min(65536, bytes.readableBytes())));
        }
        bytes.release();
        assertEquals("{\"src\":\"b\",\"dest\":\"a\",\"body\":{\"type\":\"error\",\"in_reply_to\":21,\"code\":12,"
                + "\"text\":\"line of " + (big.length() - 1) + " bytes is longer than the limit of 1048576 bytes\"}}", readReply(ch));
        assertEquals(NEXT_REPLY, readReply(ch));
    }
}

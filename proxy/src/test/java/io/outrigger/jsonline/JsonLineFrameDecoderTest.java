package io.outrigger.jsonline;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

class JsonLineFrameDecoderTest {
    private final EmbeddedChannel ch = new EmbeddedChannel(new JsonLineFrameDecoder(16));

    @AfterEach
    void release() {
        assertFalse(ch.finishAndReleaseAll());
    }

    private void write(String s) {
        ch.writeInbound(Unpooled.copiedBuffer(s, StandardCharsets.UTF_8));
    }

    private String readLine() {
        ByteBuf b = ch.readInbound();
        try {
            return b.toString(StandardCharsets.UTF_8);
        } finally {
            b.release();
        }
    }

    @Test
    void splitsOnLfAndCrLfAcrossChunksAndDropsBlankLines() {
        write("ab");
        assertNull(ch.readInbound());
        write("c\r\n\n  \r\nde");
        write("f\n");
        assertEquals("abc", readLine());
        assertEquals("def", readLine());
        assertNull(ch.readInbound());
    }

    @Test
    void lineAtTheLimitIsAccepted() {
        write("0123456789abcdef\n");
        assertEquals("0123456789abcdef", readLine());
    }

    @Test
    void lineAtTheLimitIsAcceptedWhenItsCrLfIsSplitAcrossReads() {
        write("0123456789abcdef\r");
        assertNull(ch.readInbound());
        write("\nok\n");
        assertEquals("0123456789abcdef", readLine());
        assertEquals("ok", readLine());
    }

    @Test
    void longerLineIsSkippedWholeAndTheNextIsRead() {
        write("0123456789abcdefXY\nok\n");
        OversizedLine over = assertInstanceOf(OversizedLine.class, ch.readInbound());
        assertEquals(18, over.length());
        assertEquals(new Json.Salvage(null, null, null), over.salvage());
        assertEquals("ok", readLine());
    }

    /** What a skipped line tells is read as its pieces pass, wherever it sits: a msg_id split between reads, a dest at the end. */
    @Test
    void longerLineArrivingInChunksIsDiscardedAsItComes() {
        char[] big = new char[40];
        Arrays.fill(big, 'x');
        write("{\"src\":\"s\",\"body\":{\"pad\":\"" + new String(big, 0, 20));
        assertNull(ch.readInbound());
        write(new String(big, 0, 20) + "\",\"msg_id\":4");
        assertNull(ch.readInbound());
        write("2},\"dest\":\"d\"}\nnext\n");
        OversizedLine over = assertInstanceOf(OversizedLine.class, ch.readInbound());
        assertEquals(92, over.length());
        assertEquals(new Json.Salvage("s", "d", 42L), over.salvage());
        assertEquals("next", readLine());
    }

    @Test
    void longerLineWhoseCrLfIsSplitAcrossReadsCountsNoCr() {
        write("0123456789abcdefX\r");
        assertNull(ch.readInbound());
        write("\nok\n");
        assertEquals(17, assertInstanceOf(OversizedLine.class, ch.readInbound()).length()); // as when it comes whole
        assertEquals("ok", readLine());
        write("0123456789abcdefXY");
        write("Z\r");
        write("\nnext\n");
        assertEquals(19, assertInstanceOf(OversizedLine.class, ch.readInbound()).length());
        assertEquals("next", readLine());
        write("0123456789abcdefXY\r");
        ch.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE); // a last line's CR is no content either
        assertEquals(18, assertInstanceOf(OversizedLine.class, ch.readInbound()).length());
    }

    @Test
    void lastLineWithoutNewlineIsReadAtEndOfInput() {
        write("a\nlast");
        assertEquals("a", readLine());
        assertNull(ch.readInbound());
        ch.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertEquals("last", readLine());
    }
}

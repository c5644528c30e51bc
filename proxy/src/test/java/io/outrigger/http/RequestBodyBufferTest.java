package io.outrigger.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.LastHttpContent;
import io.outrigger.testing.RecordingAllocator;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A copied (chunked) body's copy: its bytes, not its pieces, taken as they come, up to the limit, and freed once. */
class RequestBodyBufferTest {
    @Test
    void aCopyTakesThePiecesBytesAsTheyComeAndLeavesThePiecesAsTheyWere() {
        RecordingAllocator alloc = new RecordingAllocator();
        RequestBodyBuffer body = RequestBodyBuffer.copied(alloc, 64 << 10);
        HttpContent first = piece("hello ");
        LastHttpContent last = new DefaultLastHttpContent(Unpooled.copiedBuffer("world", StandardCharsets.US_ASCII));
        last.trailingHeaders().set("x-checksum", "42");

        body.copy(first);
        assertFalse(body.copiedWhole(), "not before the last chunk");
        assertEquals(1, alloc.unreleased().size());
        assertTrue(alloc.unreleased().get(0).capacity() <= RequestBodyBuffer.FIRST_CAPACITY, "room for what came, not for the limit");
        body.copy(last);

        assertEquals(0, first.content().readerIndex(), "the piece goes on whole");
        assertEquals(0, last.content().readerIndex());
        assertEquals(1, first.refCnt(), "the caller's piece, not retained");
        first.release();
        last.trailingHeaders().clear(); // what the caller does with its piece afterwards does not reach the copy
        last.release();
        assertTrue(body.copiedWhole());
        ByteBuf replay = body.retainedWhole();
        assertEquals("hello world", replay.toString(StandardCharsets.US_ASCII));
        replay.release();
        assertEquals("42", body.trailers().get("x-checksum"));

        body.release();
        body.release(); // the exchange's end may come twice: nothing is freed twice
        assertEquals(0, alloc.unreleased().size());
        assertFalse(body.copiedWhole());
    }

    @Test
    void aCopyThatWouldPassTheLimitIsFreedAtOnceAndForGood() {
        RecordingAllocator alloc = new RecordingAllocator();
        RequestBodyBuffer body = RequestBodyBuffer.copied(alloc, 10);
        HttpContent[] pieces = {piece("12345"), piece("678901"), piece("2")};

        body.copy(pieces[0]);
        assertEquals(1, alloc.unreleased().size());
        body.copy(pieces[1]); // 11 bytes: one past the limit
        assertEquals(0, alloc.unreleased().size(), "the copy is freed at the chunk that passes the limit");
        body.copy(pieces[2]);
        body.copy(LastHttpContent.EMPTY_LAST_CONTENT);
        assertFalse(body.copiedWhole());
        assertEquals(0, alloc.unreleased().size(), "nothing taken again after");
        for (HttpContent p : pieces) {
            assertEquals(0, p.content().readerIndex());
            p.release();
        }
        body.release();
    }

    @Test
    void anEmptyChunkedBodyIsCopiedWholeWithoutABuffer() {
        RecordingAllocator alloc = new RecordingAllocator();
        RequestBodyBuffer body = RequestBodyBuffer.copied(alloc, 10);

        body.copy(LastHttpContent.EMPTY_LAST_CONTENT);

        assertTrue(body.copiedWhole());
        assertSame(Unpooled.EMPTY_BUFFER, body.retainedWhole());
        assertTrue(body.trailers().isEmpty());
        assertEquals(0, alloc.unreleased().size(), "no buffer for no bytes");
        body.release();
    }

    /** Once the answer began, the copy is freed and no more is taken; pieces waiting for a connection stay queued. */
    @Test
    void aDroppedReplayFreesTheCopyAndTakesNoMore() {
        RecordingAllocator alloc = new RecordingAllocator();
        RequestBodyBuffer body = RequestBodyBuffer.copied(alloc, 64 << 10);
        HttpContent first = piece("early");
        body.copy(first);
        body.queue(first);
        assertEquals(1, alloc.unreleased().size());

        body.dropReplay();

        assertEquals(0, alloc.unreleased().size(), "the copy is freed when the answer begins, not at the exchange's end");
        HttpContent later = piece("later");
        body.copy(later);
        body.copy(LastHttpContent.EMPTY_LAST_CONTENT);
        assertEquals(0, alloc.unreleased().size(), "nothing copied after");
        assertFalse(body.copiedWhole());
        assertTrue(body.hasWaiting());
        assertSame(first, body.poll());
        first.release();
        later.release();

        RequestBodyBuffer whole = RequestBodyBuffer.whole(alloc, Unpooled.copiedBuffer("kept", StandardCharsets.US_ASCII), 4);
        assertEquals(1, alloc.unreleased().size());
        whole.dropReplay();
        assertEquals(0, alloc.unreleased().size(), "a whole body's buffer too");
        whole.release();
        body.release();
    }

    private static HttpContent piece(String s) {
        return new DefaultHttpContent(Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII));
    }
}

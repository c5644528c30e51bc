package io.outrigger.listener;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.outrigger.testing.ExhaustedAllocator;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A connection whose read buffer cannot be allocated is ended with its cause, once; one whose
 * buffers come is untouched. (The io_uring wiring runs for real in
 * it-tests' DirectMemoryExhaustionTest.)
 */
class ReadBufferShortageTest {
    private final List<Throwable> seen = new ArrayList<>();
    private final EmbeddedChannel ch = new EmbeddedChannel(new ChannelInboundHandlerAdapter() {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            seen.add(cause);
        }
    });


    @Test
    void aReadBufferThatCannotBeAllocatedEndsTheConnectionWithItsCause() {
        RecvByteBufAllocator.Handle handle = ReadBufferShortage.wrap(ch, new AdaptiveRecvByteBufAllocator()).newHandle();
        assertInstanceOf(RecvByteBufAllocator.ExtendedHandle.class, handle, "io_uring casts the handle to an extended one");

        OutOfMemoryError first = assertThrows(OutOfMemoryError.class, () -> handle.allocate(ExhaustedAllocator.DIRECT), "the error goes on to the turn");
        assertThrows(OutOfMemoryError.class, () -> handle.allocate(ExhaustedAllocator.DIRECT));
        assertTrue(ch.isOpen(), "closed after the turn, not inside the allocation");

        ch.runPendingTasks();
        assertFalse(ch.isOpen());
        assertEquals(1, seen.size(), "the cause, once: " + seen);
        assertSame(first, seen.get(0));
    }

    @Test
    void aConnectionWhoseBuffersComeIsLeftAlone() {
        RecvByteBufAllocator.Handle handle = ReadBufferShortage.wrap(ch, new AdaptiveRecvByteBufAllocator()).newHandle();
        ByteBuf buf = handle.allocate(UnpooledByteBufAllocator.DEFAULT);
        buf.release();
        ch.runPendingTasks();
        assertTrue(ch.isOpen());
        assertEquals(List.of(), seen);
        ch.finishAndReleaseAll();
    }
}

package io.outrigger.stdin;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;

import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bounds the stdin node's replies that wait to be written to stdout: while more than the high-water
 * mark of reply bytes wait, the line-JSON channel is made unwritable, so its dispatcher stops reading
 * input (and the reader thread stops reading stdin once its input credit is used up); once no more
 * than the low-water mark wait, the channel is writable again and reading resumes.
 *
 * <pre>
 *   dispatcher --reply bytes--> [ReplyBacklog: +n] --> LocalChannel --> StdoutWriter: {@link #written(int)} once on stdout
 * </pre>
 *
 * Counts on the channel's event loop; {@link #written(int)} is called from the writer's thread.
 * One instance serves one channel; thread-safe.
 */
final class ReplyBacklog extends ChannelOutboundHandlerAdapter {
    /** The channel's user-defined writability bit this handler owns. */
    private static final int WRITABILITY_INDEX = 1;

    private final long highWaterBytes;
    private final long lowWaterBytes;
    private final AtomicLong bytes = new AtomicLong();
    /** Written on the event loop only. */
    private volatile boolean paused;
    private volatile Channel channel;

    ReplyBacklog(long highWaterBytes, long lowWaterBytes) {
        if (lowWaterBytes < 0 || lowWaterBytes > highWaterBytes) {
            throw new IllegalArgumentException("lowWaterBytes: " + lowWaterBytes + " (expected: 0.." + highWaterBytes + ")");
        }
        this.highWaterBytes = highWaterBytes;
        this.lowWaterBytes = lowWaterBytes;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        channel = ctx.channel();
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof ByteBuf) {
            long now = bytes.addAndGet(((ByteBuf) msg).readableBytes());
            if (!paused && now > highWaterBytes) {
                paused = true;
                setWritable(false);
                // The writer may have drained below the low mark before it could see the pause.
                resumeIfDrained();
            }
        }
        ctx.write(msg, promise);
    }

    /** The writer wrote {@code n} reply bytes to stdout (or dropped them): they no longer wait. */
    void written(int n) {
        long now = bytes.addAndGet(-n);
        if (paused && now <= lowWaterBytes && now + n > lowWaterBytes) {
            try {
                channel.eventLoop().execute(this::resumeIfDrained);
            } catch (RejectedExecutionException shutDown) {
                // the node is closing: nothing is read any more
            }
        }
    }

    private void resumeIfDrained() {
        if (paused && bytes.get() <= lowWaterBytes) {
            paused = false;
            setWritable(true);
        }
    }

    private void setWritable(boolean writable) {
        ChannelOutboundBuffer buffer = channel.unsafe().outboundBuffer();
        if (buffer != null) { // null once the channel closed: nothing left to read
            buffer.setUserDefinedWritability(WRITABILITY_INDEX, writable);
        }
    }
}

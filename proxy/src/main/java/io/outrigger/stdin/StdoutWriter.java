package io.outrigger.stdin;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.CompletableFuture;

/**
 * The last handler of the stdin node's client side. Copies each reply line it receives to an output stream (stdout) and flushes at the end of
 * every read batch, so a burst of replies costs one flush and no reply waits for more input.
 *
 * <p>Writing to a pipe can block, so this handler must run on its own executor, never on an
 * event loop (the stdin node adds it with a dedicated {@code EventExecutorGroup}). Releases
 * every buffer. Not sharable: it owns the stream. When the stream fails (the reader went away)
 * the rest of the output is dropped after one log line.
 */
final class StdoutWriter extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(StdoutWriter.class);

    private final OutputStream out;
    private final ReplyBacklog backlog;
    private final CompletableFuture<Void> finished = new CompletableFuture<>();
    /** The stream failed: set on the writer's executor, read by the stdin reader thread. */
    private volatile boolean broken;

    /** @param backlog told of every reply's bytes once they are written (or dropped) */
    StdoutWriter(OutputStream out, ReplyBacklog backlog) {
        this.out = out;
        this.backlog = backlog;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg == LocalEndOfStreamHandler.END_OF_OUTPUT) {
            flush();
            finished.complete(null);
            return;
        }
        int bytes = msg instanceof ByteBuf ? ((ByteBuf) msg).readableBytes() : 0;
        try {
            if (bytes > 0 && !broken) {
                ((ByteBuf) msg).readBytes(out, bytes);
            }
        } catch (IOException e) {
            fail(e);
        } finally {
            ReferenceCountUtil.release(msg);
            backlog.written(bytes);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        flush();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        flush();
        finished.complete(null);
    }

    @Override
    public void channelUnregistered(ChannelHandlerContext ctx) {
        // The last handler: nothing after it needs the event, and the event loop may be shutting down.
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.warn("stdout channel failed", cause);
    }

    /** Whether stdout failed (its reader went away): replies are dropped from then on. */
    boolean broken() {
        return broken;
    }

    /** Completes once the last reply (up to the END_OF_OUTPUT marker, or the channel's end) was written and flushed. */
    CompletableFuture<Void> finished() {
        return finished;
    }

    private void flush() {
        if (broken) {
            return;
        }
        try {
            out.flush();
        } catch (IOException e) {
            fail(e);
        }
    }

    private void fail(IOException e) {
        if (!broken) {
            broken = true;
            log.warn("cannot write to stdout ({}); further replies are dropped", e.toString());
        }
    }
}

package io.outrigger.stdin;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.ChannelInputShutdownEvent;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;

/**
 * Gives the stdin node's local channel the end-of-stream behaviour of a half-closed TCP
 * connection, with in-band markers so neither end can overtake the data before it.
 *
 * <pre>
 *   END_OF_INPUT (read, after the last input bytes) --> ChannelInputShutdownEvent up the pipeline
 *   close() from the pipeline (all replies written)  --> END_OF_OUTPUT written after the last reply
 * </pre>
 *
 * Closing a local channel drops what its peer has not read yet, so the pipeline's close is turned
 * into the END_OF_OUTPUT marker; the node closes the channel once its {@link StdoutWriter} has
 * seen the marker (the close promise completes then). Sits first in the server side's pipeline.
 * Also gives back the reader's input credit as the pipeline reads. {@link Sharable}; thread-safe.
 */
@Sharable
final class LocalEndOfStreamHandler extends ChannelDuplexHandler {
    /** Written by the reader once input ended. */
    static final Object END_OF_INPUT = new Marker("END_OF_INPUT");
    /** Written to the writer after the last reply. */
    static final Object END_OF_OUTPUT = new Marker("END_OF_OUTPUT");

    private final Semaphore unreadInput;
    private final CompletableFuture<Void> inputEnded = new CompletableFuture<>();
    private final CompletableFuture<Void> outputEnded = new CompletableFuture<>();

    /** @param unreadInput released by the bytes of each input buffer as the pipeline reads it (the reader's backpressure) */
    LocalEndOfStreamHandler(Semaphore unreadInput) {
        this.unreadInput = unreadInput;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg == END_OF_INPUT) {
            inputEnded.complete(null);
            ctx.fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        } else if (msg instanceof ByteBuf) {
            int bytes = ((ByteBuf) msg).readableBytes();
            ctx.fireChannelRead(msg);
            unreadInput.release(bytes);
        } else {
            ctx.fireChannelRead(msg);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        inputEnded.complete(null); // closed before it read the end: nothing more will be read
        ctx.fireChannelInactive();
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        outputEnded.complete(null);
        if (!ctx.channel().isActive()) {
            ctx.close(promise);
            return;
        }
        ctx.writeAndFlush(END_OF_OUTPUT);
        ctx.channel().closeFuture().addListener(f -> promise.trySuccess());
    }

    /**
     * Completes once the pipeline has read the end of input (every line before it is read), or its channel
     * closed first. A pipeline that stopped reading because stdout is not read reaches it only once stdout is.
     */
    CompletableFuture<Void> inputEnded() {
        return inputEnded;
    }

    /** Completes once the pipeline closed its side: every reply it will write has been written to the channel. */
    CompletableFuture<Void> outputEnded() {
        return outputEnded;
    }

    private record Marker(String name) {
    }
}

package io.outrigger.upstream;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.PrematureChannelClosureException;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last handler of an upstream connection: hands its events to the {@link UpstreamListener}
 * that leases the connection, and closes the connection when it speaks or idles out while it
 * sits in the pool.
 *
 * <pre>
 *   UpstreamCodec -> IdleStateHandler -> UpstreamHandler -> (leasing exchange)
 * </pre>
 *
 * One instance per connection (not sharable); used on the connection's event loop only.
 */
public final class UpstreamHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(UpstreamHandler.class);

    private final UpstreamCodec codec;
    private UpstreamListener listener;
    private Throwable lastCause;
    /**
     * The connection failed (a reset, say) and was closed for it: a response whose body ends with the
     * connection (no length, not chunked) has been cut off, not completed.
     */
    private boolean closedOnError;
    /** Inside a read burst: the decoder may still hold bytes that follow the response just completed. */
    private boolean reading;
    /** The pools to return the connection to at the end of the read burst, when asked during one; else null. */
    private UpstreamPools poolAfterRead;
    /**
     * This handler has asked for the connection to close. On io_uring the close waits until the outstanding
     * read is cancelled, and the channel reads as active until then: the pools must not lease it meanwhile.
     */
    private boolean closing;

    /**
     * {@link #closeReadBurst}, queued at the first read of a burst, when the connection reads from the loop's buffer
     * ring (io_uring); null otherwise. One instance per handler: arming it allocates nothing.
     */
    private final Runnable burstGuard;
    /** {@link #burstGuard} is queued on the event loop and has not run yet. */
    private boolean burstGuardQueued;
    /** This handler's context, for {@link #closeReadBurst}. */
    private ChannelHandlerContext ctx;

    UpstreamHandler(UpstreamCodec codec, boolean readsFromRing) {
        this.codec = codec;
        this.burstGuard = readsFromRing ? this::closeReadBurst : null;
    }

    /**
     * The handler of the upstream connection {@code ch}, or null when it has none (its set-up failed). It is
     * the pipeline's last handler, found without the walk and type tests of {@code pipeline().get(Class)},
     * which is paid on every lease and release.
     */
    public static UpstreamHandler of(Channel ch) {
        return ch.pipeline().last() instanceof UpstreamHandler h ? h : null;
    }

    /**
     * Whether this handler has closed the connection (it idled out in the pool, sent bytes nobody asked for, or
     * failed), also while the close is still under way and the channel still reads as active.
     */
    boolean closing() {
        return closing;
    }

    private void close(ChannelHandlerContext ctx) {
        closing = true;
        ctx.close();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    /** Leases the connection to {@code l}. */
    public void bind(UpstreamListener l) {
        this.listener = l;
    }

    /** Ends the lease: later events no longer reach the former listener. */
    public void unbind() {
        this.listener = null;
    }

    /**
     * Returns the connection to {@code pools} once the current read burst is over, or now when none
     * is under way. A response may complete mid-burst with more bytes behind it in the
     * same read: an upstream out of step sending a second response. Pooled at once, the connection
     * could be leased to the next request while the decoder goes on, and that request would get the
     * stray response; released at the end of the burst, the stray arrives while the connection is
     * unleased and closes it ({@link #channelRead}), and the pool then finds it closed.
     */
    void poolAfterRead(UpstreamPools pools, Channel ch) {
        if (reading) {
            poolAfterRead = pools;
        } else {
            pools.pool(ch, codec);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (burstGuard != null && !burstGuardQueued) {
            burstGuardQueued = true;
            ctx.executor().execute(burstGuard);
        }
        reading = true;
        UpstreamListener l = listener;
        if (closedOnError && msg instanceof LastHttpContent && !((LastHttpContent) msg).decoderResult().isFailure()) {
            // Netty's decoder ends a close-delimited body at any close, a reset included: passed on as the
            // end of the body, the client would take a truncated download for a whole one.
            ReferenceCountUtil.release(msg);
            DefaultLastHttpContent cut = new DefaultLastHttpContent();
            cut.setDecoderResult(DecoderResult.failure(new PrematureChannelClosureException(
                    "connection failed before the end of the response body", lastCause)));
            msg = cut;
        }
        if (l != null) {
            l.onUpstreamRead(msg);
        } else {
            // A pooled connection has nothing to say: a stray response means it is out of step.
            ReferenceCountUtil.release(msg);
            close(ctx);
        }
    }

    /**
     * Ends a read burst Netty left open. A connection that reads from the buffer ring keeps a multishot receive armed
     * whether a read was asked or not. When none was asked at the end of a burst (the exchange holds its reads while
     * the client is not writable), Netty 4.2.18 cancels that receive, but the completions the kernel had already
     * queued (up to the ring's worth of buffers) are still handed on as {@code channelRead}s, and the cancellation
     * that ends them completes without a {@code channelReadComplete}. The exchange flushes what it relayed, and asks
     * for the next read, at a burst's end only: those bytes stayed unflushed in the client's connection, which stayed
     * above its high-water mark, never turned writable and so never asked for a read again; the answer stalled until
     * request_ms. Queued at a burst's first read, this runs after the loop's turn of completions: a burst still open
     * then is ended here, through the whole pipeline (the decoder and the idle handler keep burst state too). One
     * that merely goes on in the next turn is ended early, which costs a flush.
     */
    private void closeReadBurst() {
        burstGuardQueued = false;
        if (reading && ctx.channel().isRegistered()) {
            ctx.channel().pipeline().fireChannelReadComplete();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        reading = false;
        UpstreamPools pools = poolAfterRead;
        if (pools != null) {
            poolAfterRead = null;
            pools.pool(ctx.channel(), codec);
            return;
        }
        UpstreamListener l = listener;
        if (l != null) {
            l.onUpstreamReadComplete();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        UpstreamListener l = listener;
        if (l != null) {
            l.onUpstreamWritabilityChanged(ctx.channel().isWritable());
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        UpstreamListener l = listener;
        listener = null;
        if (l != null) {
            l.onUpstreamClosed(lastCause);
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent) {
            if (listener == null) {
                close(ctx); // idle in the pool too long; a leased connection is bounded by the request deadline
            }
            return;
        }
        ReferenceCountUtil.release(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("upstream connection {} failed", ctx.channel(), cause);
        lastCause = cause;
        if (listener != null && writeSideOnly(ctx.channel())) {
            // A write failed (AUTO_CLOSE is off: the output was shut, not the connection): the instance closed
            // or reset its side, maybe right after an early answer (a 413 to a body it will not read) that
            // still waits in the receive buffer. The leasing exchange reads on; the read side's end closes.
            return;
        }
        closedOnError = true;
        close(ctx);
    }

    /** Whether only the sending side of {@code ch} is shut: what the instance sent can still be read. */
    static boolean writeSideOnly(Channel ch) {
        return ch instanceof DuplexChannel && ch.isActive() && ((DuplexChannel) ch).isOutputShutdown()
                && !((DuplexChannel) ch).isInputShutdown();
    }
}

package io.outrigger.tcp;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.ReferenceCountUtil;
import io.outrigger.lifecycle.ConnectionTracker;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies what one channel reads to its peer, one half of a TCP relay (the other half is the
 * same handler on the peer).
 *
 * <p>Backpressure without locks: both channels run with {@code AUTO_READ} off on the same event
 * loop and the next read is asked for only after the previous write to the peer succeeded, so a
 * slow reader on one side slows the writer on the other. A FIN from one side
 * ({@link ChannelInputShutdownEvent}, needs {@code ALLOW_HALF_CLOSURE}) shuts the peer's output
 * once everything before it was flushed; a channel closed for any reason closes its peer after
 * a flush. A broken stream (a reset read from one side, a failed read or write) resets the other side
 * ({@code SO_LINGER} 0), so its peer reads an error, not a clean end of stream that could make a cut
 * stream look complete; so is a relay the sidecar cuts itself (its shutdown,
 * {@link ConnectionTracker#closedBySidecar}), on both sides. A channel that closes before its input
 * ended (no FIN read from it) resets its peer too, whatever closed it: its stream to the peer was cut.
 * (A reset can go unreported: shutting the output of a connection the other end has just reset fails
 * with ENOTCONN, and the relay closes it without ever reading the reset.) Only the idle timeout
 * closes the peer with a FIN (see {@link IdleCloseHandler}). Not sharable: one per channel.
 */
final class RelayHandler extends ChannelDuplexHandler {
    private static final Logger log = LoggerFactory.getLogger(RelayHandler.class);

    private final Channel peer;
    /** A FIN was read from this channel: all it sent reached the relay, and its peer may be closed with a FIN. */
    private boolean inputEnded;
    /** Closed by the idle timeout, which closes the peer with a FIN whatever was read. */
    private boolean idleClosed;

    RelayHandler(Channel peer) {
        this.peer = peer;
    }

    /** Marks the channel as closed by the idle timeout, which closes the peer with a FIN (documented). */
    void closingIdle() {
        idleClosed = true;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!peer.isActive()) {
            ReferenceCountUtil.release(msg);
            ctx.close();
            return;
        }
        peer.writeAndFlush(msg).addListener((ChannelFutureListener) f -> {
            if (f.isSuccess()) {
                readMore(ctx.channel());
            } else {
                log.debug("relay write to {} failed: {}", peer.remoteAddress(), f.cause().toString());
                f.channel().close();
                reset(ctx.channel()); // what it sent was lost: not a clean end of stream
            }
        });
    }

    /** Asks for the next read unless the input is finished (reading a shut input upsets epoll). */
    static void readMore(Channel ch) {
        if (!(ch instanceof DuplexChannel d) || !d.isInputShutdown()) {
            ch.read();
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt == ChannelInputShutdownEvent.INSTANCE) {
            inputEnded = true;
            shutdownPeerOutput();
        }
        ctx.fireUserEventTriggered(evt);
    }

    private void shutdownPeerOutput() {
        // Shutting the output down discards unwritten data: flush everything before the FIN first.
        peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess() || !(peer instanceof DuplexChannel duplex)) {
                peer.close();
                return;
            }
            duplex.shutdownOutput().addListener(s -> {
                if (!s.isSuccess() || duplex.isInputShutdown()) {
                    peer.close(); // both directions finished: the peer's close closes this side too
                }
            });
        });
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        if (ConnectionTracker.closedBySidecar(ctx.channel()) && ctx.channel().isActive()) {
            // Cut by the sidecar: a FIN would tell the client its stream ended whole.
            ctx.channel().config().setOption(ChannelOption.SO_LINGER, 0);
        }
        ctx.close(promise);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (ConnectionTracker.closedBySidecar(ctx.channel()) || !(inputEnded || idleClosed)) {
            // Closed before its stream to the peer ended (or cut by the sidecar): a FIN would make it look whole.
            reset(peer);
        } else {
            closeOnFlush(peer);
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("relay channel {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        // Most often a reset: the transport would next report it as an end of input (half-closure is on),
        // and a FIN to the peer would make a cut stream look complete. Passed on as a reset instead.
        reset(peer);
        ctx.close();
    }

    /** Closes {@code ch} with a reset (RST), discarding what it has not sent yet. */
    static void reset(Channel ch) {
        if (ch.isActive()) {
            ch.config().setOption(ChannelOption.SO_LINGER, 0);
        }
        ch.close();
    }

    static void closeOnFlush(Channel ch) {
        if (ch.isActive()) {
            ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        } else {
            ch.close();
        }
    }
}

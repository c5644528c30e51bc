package io.outrigger.jsonline;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Hands each {@link Request} to the {@link MessageHandler} of its type and writes the reply
 * (src and dest swapped) when it is ready; {@link BadLine}s and handler failures become error
 * replies through {@link JsonLineErrors}.
 *
 * <pre>
 *   Request | BadLine --> [JsonLineDispatcher] --> Reply (written back through the encoder)
 * </pre>
 *
 * Requests run concurrently: a handler that answers later (a retry waiting on a timer) does not
 * hold up the next line. At end of input ({@code ChannelInputShutdownEvent}) the channel closes
 * once the requests in flight have been answered and every reply has been written, or after the
 * node's drain time. When the channel closes, the requests still in flight are cancelled: a call
 * stops its retries rather than go on judging the breaker for a caller that is gone. An
 * {@link IdleStateEvent} (the TCP listener's idle timeout) closes the channel unless a request is in flight
 * or replies wait to be sent and the socket took some of them since the last idle timeout (a client
 * reading slowly; one that stopped reading is closed at its second idle timeout).
 * Not sharable: it counts the channel's requests in flight. Runs on the channel's event loop.
 */
public final class JsonLineDispatcher extends ChannelInboundHandlerAdapter {
    /**
     * Requests of one channel in flight at which it stops reading until one is answered: a call can wait
     * minutes on its retries, and a client sending such calls without end would otherwise grow the
     * sidecar without bound (the lines of a read already under way are still served).
     */
    static final int MAX_IN_FLIGHT = 1_024;

    private static final Logger log = LoggerFactory.getLogger(JsonLineDispatcher.class);

    private final JsonLineNode node;
    private final boolean reportEveryBadLine;
    private JsonLineSession session;
    private int inFlight;
    /** The results of the requests in flight, cancelled when the channel closes. */
    private final Set<Future<ObjectNode>> pending = new LinkedHashSet<>();
    private boolean inputShutdown;
    /** Reply bytes waiting to be sent at the last idle timeout; -1 before the first. */
    private long waitingAtLastIdle = -1;
    /** The channel failed once already: later failures (each queued write) are not logged again, nor lines served. */
    private boolean failed;
    private ScheduledFuture<?> drainDeadline;

    /** @param reportEveryBadLine see {@link JsonLineErrors#toReply(BadLine, boolean)} */
    public JsonLineDispatcher(JsonLineNode node, boolean reportEveryBadLine) {
        this.node = node;
        this.reportEveryBadLine = reportEveryBadLine;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        session = new JsonLineSession(ctx.executor());
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (failed || !ctx.channel().isActive()) {
            // Lines decoded from what arrived before the close: nobody to answer. After a read error the channel
            // may still look active (io_uring delays a close while a write is outstanding) and the frame decoder
            // hands on the partial line at the input shutdown that follows: a line the reset cut off.
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof Request) {
            dispatch(ctx, (Request) msg);
        } else if (msg instanceof BadLine) {
            Reply reply = JsonLineErrors.toReply((BadLine) msg, reportEveryBadLine);
            if (reply != null) {
                ctx.writeAndFlush(reply, ctx.voidPromise());
            }
        } else {
            ctx.fireChannelRead(msg);
        }
    }

    private void dispatch(ChannelHandlerContext ctx, Request request) {
        MessageHandler handler = node.handler(request.type());
        if (handler == null) {
            ctx.writeAndFlush(JsonLineErrors.unsupported(request), ctx.voidPromise());
            return;
        }
        Future<ObjectNode> result;
        try {
            result = handler.handle(request, session);
        } catch (Throwable t) {
            ctx.writeAndFlush(JsonLineErrors.toReply(request, t), ctx.voidPromise());
            return;
        }
        if (result.isDone()) {
            reply(ctx, request, result);
            return;
        }
        if (++inFlight == MAX_IN_FLIGHT) {
            updateAutoRead(ctx);
        }
        pending.add(result);
        result.addListener(done -> {
            pending.remove(result);
            if (inFlight-- == MAX_IN_FLIGHT) {
                updateAutoRead(ctx);
            }
            reply(ctx, request, result);
            if (inputShutdown && inFlight == 0) {
                closeDrained(ctx);
            }
        });
    }

    private static void reply(ChannelHandlerContext ctx, Request request, Future<ObjectNode> result) {
        if (!ctx.channel().isActive()) {
            // The client went away (or the drain closed it) with this call pending: its choice, not a fault.
            // Checked first: a request cancelled because of it is no failure to report (toReply logs those).
            log.debug("reply to {} msg_id {} dropped: the channel closed before it was ready", request.type(), request.msgId());
            return;
        }
        Reply reply = result.isSuccess() ? new Reply(request.dest(), request.src(), result.getNow())
                : JsonLineErrors.toReply(request, result.cause());
        ctx.writeAndFlush(reply, ctx.voidPromise());
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent) {
            // No input and no reply for the idle timeout. A call still in flight (a retry waiting) keeps the
            // connection: its reply resets the timer. So do replies still waiting to be sent: a client reading
            // slowly leaves no write done for a long time (the socket's buffer drains at its pace), and while
            // they wait its lines are not read either; a close would drop them, and reset the connection.
            // (IdleStateHandler's observeOutput would not do: it reports the first idle period whatever moved.)
            // Replies that waited through a whole idle timeout without the socket taking any are a client that
            // stopped reading: it would hold the connection and its replies for good.
            if (inFlight == 0 && !repliesMoving(ctx)) {
                log.debug("line-JSON channel {} idle; closing it", ctx.channel());
                ctx.close();
            }
            return;
        }
        if (evt instanceof ChannelInputShutdownEvent && !inputShutdown && !failed) {
            inputShutdown = true;
            // Bounds the wait for the requests in flight and for a peer slow to take its last replies.
            drainDeadline = ctx.executor().schedule(() -> {
                if (ctx.channel().isActive()) {
                    // Name what held the close back: calls still waiting (on a retry's backoff), or a peer not reading.
                    if (inFlight > 0) {
                        log.warn("end of input: {} request(s) still in flight after {} ms, closing", inFlight, node.drainMillis());
                    } else {
                        log.warn("end of input: replies not all taken by the peer after {} ms, closing", node.drainMillis());
                    }
                    ctx.close();
                }
            }, node.drainMillis(), TimeUnit.MILLISECONDS);
            if (inFlight == 0) {
                closeDrained(ctx);
            } else {
                log.debug("end of input: waiting up to {} ms for {} request(s) in flight", node.drainMillis(), inFlight);
            }
        }
        ctx.fireUserEventTriggered(evt);
    }

    /**
     * Whether replies written to the channel wait to be handed to the socket, and it took some since the
     * last idle timeout (the first one with replies waiting gives them the benefit of the doubt).
     */
    private boolean repliesMoving(ChannelHandlerContext ctx) {
        ChannelOutboundBuffer out = ctx.channel().unsafe().outboundBuffer();
        long waiting = out == null ? 0 : out.totalPendingWriteBytes();
        boolean moving = waiting > 0 && waiting != waitingAtLastIdle;
        waitingAtLastIdle = waiting;
        return moving;
    }

    /** Closes once every reply written so far has left: a close at once would drop those a slow reader has not taken yet. */
    private void closeDrained(ChannelHandlerContext ctx) {
        ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> {
            drainDeadline.cancel(false);
            ctx.close();
        });
    }

    /** The client is gone: nobody is left to answer, so the requests in flight stop (a call's retries with them). */
    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (!pending.isEmpty()) {
            log.debug("line-JSON channel {} closed with {} request(s) in flight: cancelling them", ctx.channel(), pending.size());
            for (Future<ObjectNode> f : pending.toArray(Future[]::new)) {
                f.cancel(false);
            }
        }
        ctx.fireChannelInactive();
    }

    /** Backpressure: a peer that does not read its replies stops the reading of its requests. */
    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        updateAutoRead(ctx);
        ctx.fireChannelWritabilityChanged();
    }

    /** Reads while the peer takes its replies and fewer than {@link #MAX_IN_FLIGHT} requests wait. */
    private void updateAutoRead(ChannelHandlerContext ctx) {
        ctx.channel().config().setAutoRead(ctx.channel().isWritable() && inFlight < MAX_IN_FLIGHT);
    }

    /**
     * Closes the channel; logs once per channel. A peer that resets its connection (an I/O error, and
     * then every write still queued fails the same way) is normal traffic: one DEBUG line, no stack.
     */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!failed) {
            failed = true;
            if (cause instanceof IOException) {
                log.debug("line-JSON channel {} closed: {}", ctx.channel(), cause.toString());
            } else {
                log.warn("line-JSON channel {} failed, closing it", ctx.channel(), cause);
            }
        }
        ctx.close();
    }
}

package io.outrigger.registry.http;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;

import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * Hands the handlers one request at a time, so pipelined requests are answered in the order they came, as
 * HTTP/1.1 requires, even when one of them (a blocking query) is answered later than the next would be.
 * <pre>
 *   HttpServerCodec -> PipeliningHandler -> [ReceivedHeaders] -> BodyLimit -> ... -> RequestHandler
 * </pre>
 * A request that arrives once the one before it has been read whole, but before that one's final answer (not a
 * {@code 1xx}) has been written, is held here, its head and body alike, and reading the connection stops until it
 * can go on. Once an answer says the connection closes, what follows it is dropped, held or not. It sits before
 * the aggregator so that neither a held request's {@code 100 Continue} nor its copy in {@link ReceivedHeaders}
 * comes ahead of the answer before it.
 *
 * <p>It also drains the connection when its server shuts down gracefully ({@link #DRAIN}, or the server already
 * draining when the connection becomes active): an idle connection (no request handed on and unanswered, none
 * held) closes at once; a busy one gets its final answer with {@code Connection: close} and closes once that is
 * written, so a keep-alive client moves on. One per connection; event loop only.
 */
final class PipeliningHandler extends ChannelDuplexHandler {
    /** The user event that starts the drain of a connection. */
    static final Object DRAIN = new Object() {
        @Override
        public String toString() {
            return "DRAIN";
        }
    };

    private final BooleanSupplier serverDraining;
    /** The server's count of requests handed on and not answered yet, over all its connections. */
    private final AtomicInteger inFlight;
    private final Queue<Object> held = new ArrayDeque<>();
    /** A request was handed on and its final answer is not written yet. */
    private boolean answering;
    /** The request handed on last has been read whole. */
    private boolean requestRead;
    /** The response being written is a {@code 1xx}, whose end does not end the exchange. */
    private boolean interim;
    /** A final answer said the connection closes: no request after it is handed on (RFC 9112 9.6). */
    private boolean closing;
    /** The server drains: the next final answer closes the connection. */
    private boolean draining;
    /** The answer being written was made {@code Connection: close} by the drain: close once it is written. */
    private boolean closeAfterAnswer;

    PipeliningHandler(BooleanSupplier serverDraining, AtomicInteger inFlight) {
        this.serverDraining = serverDraining;
        this.inFlight = inFlight;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        super.channelActive(ctx);
        if (serverDraining.getAsBoolean()) { // accepted just before the listener closed: no DRAIN came or will
            drain(ctx);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt == DRAIN) {
            drain(ctx);
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    private void drain(ChannelHandlerContext ctx) {
        if (draining) {
            return;
        }
        draining = true;
        if (!answering && held.isEmpty()) {
            ctx.close(); // idle: a request partly sent is not one received, and a client resends it elsewhere
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (closing) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (!held.isEmpty() || answering && requestRead) {
            held.add(msg);
            ctx.channel().config().setAutoRead(false);
            return;
        }
        pass(ctx, msg);
    }

    private void pass(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest) {
            if (!answering) {
                inFlight.incrementAndGet();
            }
            answering = true;
            requestRead = false;
        }
        if (msg instanceof LastHttpContent) {
            requestRead = true;
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof HttpResponse res) {
            HttpResponseStatus status = res.status();
            interim = status.codeClass() == HttpStatusClass.INFORMATIONAL && status.code() != 101;
            if (draining && !interim && HttpUtil.isKeepAlive(res)) {
                // The keep-alive handler, nearer the tail, has let it pass as keep-alive: this handler closes.
                HttpUtil.setKeepAlive(res, false);
                closeAfterAnswer = true;
            }
            closing |= !interim && !HttpUtil.isKeepAlive(res);
        }
        boolean ends = msg instanceof LastHttpContent && !interim;
        if (ends && closeAfterAnswer) {
            closeAfterAnswer = false;
            promise = promise.unvoid().addListener(ChannelFutureListener.CLOSE);
        }
        ctx.write(msg, promise);
        if (ends && answering) {
            answering = false;
            inFlight.decrementAndGet();
            // Not from inside this write: the handler that answered may still be in its channelRead.
            ctx.executor().execute(() -> passHeld(ctx));
        }
    }

    /** Hands on the held messages up to the end of the next request whose answer must come first. */
    private void passHeld(ChannelHandlerContext ctx) {
        if (closing) {
            releaseHeld();
            return;
        }
        boolean passed = false;
        while (!held.isEmpty() && !(answering && requestRead)) {
            pass(ctx, held.poll());
            passed = true;
        }
        if (passed) {
            ctx.fireChannelReadComplete();
        }
        if (held.isEmpty() && ctx.channel().isActive() && !ctx.channel().config().isAutoRead()) {
            ctx.channel().config().setAutoRead(true);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (answering) {
            answering = false;
            inFlight.decrementAndGet();
        }
        releaseHeld();
        super.channelInactive(ctx);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releaseHeld();
    }

    private void releaseHeld() {
        Object msg;
        while ((msg = held.poll()) != null) {
            ReferenceCountUtil.release(msg);
        }
    }
}

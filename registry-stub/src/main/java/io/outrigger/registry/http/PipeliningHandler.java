package io.outrigger.registry.http;

import io.netty.channel.ChannelDuplexHandler;
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
 * comes ahead of the answer before it. One per connection; event loop only.
 */
final class PipeliningHandler extends ChannelDuplexHandler {
    private final Queue<Object> held = new ArrayDeque<>();
    /** A request was handed on and its final answer is not written yet. */
    private boolean answering;
    /** The request handed on last has been read whole. */
    private boolean requestRead;
    /** The response being written is a {@code 1xx}, whose end does not end the exchange. */
    private boolean interim;
    /** A final answer said the connection closes: no request after it is handed on (RFC 9112 9.6). */
    private boolean closing;

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
            closing |= !interim && !HttpUtil.isKeepAlive(res);
        }
        boolean ends = msg instanceof LastHttpContent && !interim;
        ctx.write(msg, promise);
        if (ends && answering) {
            answering = false;
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

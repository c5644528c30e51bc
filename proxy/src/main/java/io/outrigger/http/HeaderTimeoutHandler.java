package io.outrigger.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;

/**
 * Closes a client connection whose request head takes longer than {@code timeoutMillis}
 * (default 10000, {@code http.header_timeout_ms}) to arrive, counted from the first byte of
 * the request: a defence against slow-header (slowloris) clients. An idle keep-alive
 * connection is left to the idle timeout.
 *
 * <pre>
 *   HeaderTimeoutHandler -> HttpServerCodec -> HttpRequestGuard (calls {@link #headReceived()}, {@link #requestReceived()})
 * </pre>
 *
 * Sits before the codec so it sees raw bytes. One per connection; event loop only.
 */
final class HeaderTimeoutHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(HeaderTimeoutHandler.class);

    private final long timeoutMillis;
    private ChannelHandlerContext ctx;
    private boolean awaitingHead = true;
    private ScheduledFuture<?> timer;

    HeaderTimeoutHandler(long timeoutMillis) {
        this.timeoutMillis = timeoutMillis;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (awaitingHead && timer == null) {
            timer = ctx.executor().schedule(this::expire, timeoutMillis, TimeUnit.MILLISECONDS);
        }
        ctx.fireChannelRead(msg);
    }

    /** The codec produced a request head: stop the clock. */
    void headReceived() {
        awaitingHead = false;
        cancel();
    }

    /** The request is complete: the next byte starts the next head's clock. */
    void requestReceived() {
        awaitingHead = true;
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancel();
        ctx.fireChannelInactive();
    }

    private void cancel() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void expire() {
        timer = null;
        if (awaitingHead && ctx.channel().isActive()) {
            log.debug("{}: request headers not received within {} ms, closing", ctx.channel(), timeoutMillis);
            ctx.close();
        }
    }
}

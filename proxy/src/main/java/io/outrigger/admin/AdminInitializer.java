package io.outrigger.admin;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.timeout.IdleStateHandler;

import java.util.concurrent.TimeUnit;

/**
 * The admin connection pipeline:
 * <pre>
 *   socket -> IdleStateHandler(reader idle: http.idle_timeout_ms) -> HttpServerCodec
 *          -> HttpServerKeepAliveHandler -> HttpObjectAggregator(8 KiB)
 *          -> AdminHandler (answers built on the outrigger-admin thread; closes idle connections)
 * </pre>
 * Admin requests carry no meaningful body, so the aggregator's small limit answers larger ones
 * with 413 by itself. A connection that sends nothing, or only part of a request, for
 * {@code http.idle_timeout_ms} is closed, like the proxy listeners' idle ones. Sharable: built
 * once per listener.
 */
final class AdminInitializer extends ChannelInitializer<SocketChannel> {
    /** Largest admin request body accepted. */
    static final int MAX_CONTENT_BYTES = 8192;

    private final AdminHandler handler;
    private final long idleTimeoutMillis;

    AdminInitializer(AdminHandler handler, long idleTimeoutMillis) {
        this.handler = handler;
        this.idleTimeoutMillis = idleTimeoutMillis;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        ChannelPipeline p = ch.pipeline();
        p.addLast("idle", new IdleStateHandler(idleTimeoutMillis, 0, 0, TimeUnit.MILLISECONDS));
        p.addLast("http-codec", new HttpServerCodec());
        p.addLast("keep-alive", new HttpServerKeepAliveHandler());
        p.addLast("aggregator", new HttpObjectAggregator(MAX_CONTENT_BYTES));
        p.addLast("admin", handler);
    }
}

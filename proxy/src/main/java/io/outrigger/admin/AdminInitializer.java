package io.outrigger.admin;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;

/**
 * The admin connection pipeline:
 * <pre>
 *   socket -> HttpServerCodec -> HttpServerKeepAliveHandler -> HttpObjectAggregator(8 KiB)
 *          -> AdminHandler (answers built on the outrigger-admin thread)
 * </pre>
 * Admin requests carry no meaningful body, so the aggregator's small limit answers larger ones
 * with 413 by itself. Sharable: built once per listener.
 */
final class AdminInitializer extends ChannelInitializer<SocketChannel> {
    /** Largest admin request body accepted. */
    static final int MAX_CONTENT_BYTES = 8192;

    private final AdminHandler handler;

    AdminInitializer(AdminHandler handler) {
        this.handler = handler;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        ChannelPipeline p = ch.pipeline();
        p.addLast("http-codec", new HttpServerCodec());
        p.addLast("keep-alive", new HttpServerKeepAliveHandler());
        p.addLast("aggregator", new HttpObjectAggregator(MAX_CONTENT_BYTES));
        p.addLast("admin", handler);
    }
}

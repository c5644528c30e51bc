package io.outrigger.admin;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.timeout.IdleStateHandler;
import io.outrigger.listener.ReadBufferShortage;

import java.util.concurrent.TimeUnit;

/**
 * The admin connection pipeline:
 * <pre>
 *   socket -> IdleStateHandler(reader idle: http.idle_timeout_ms) -> HttpServerCodec(http.max_header_bytes)
 *          -> HttpServerKeepAliveHandler
 *          -> AdminHandler (answers each request by its head, on the outrigger-admin thread; drops bodies;
 *             closes idle connections)
 * </pre>
 * Admin requests carry no meaningful body: whatever body comes is read and dropped, so a POST of any
 * size gets its 405 and the connection stays usable. A connection that sends nothing, or only part of
 * a request, for {@code http.idle_timeout_ms} is closed, like the proxy listeners' idle ones.
 * Sharable: built once per listener.
 */
final class AdminInitializer extends ChannelInitializer<SocketChannel> {
    private final AdminHandler handler;
    private final long idleTimeoutMillis;
    private final int maxHeaderBytes;

    AdminInitializer(AdminHandler handler, long idleTimeoutMillis, int maxHeaderBytes) {
        this.handler = handler;
        this.idleTimeoutMillis = idleTimeoutMillis;
        this.maxHeaderBytes = maxHeaderBytes;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        ReadBufferShortage.installOn(ch); // out of memory for a read buffer: closed at once, not left to the idle timeout
        ChannelPipeline p = ch.pipeline();
        p.addLast("idle", new IdleStateHandler(idleTimeoutMillis, 0, 0, TimeUnit.MILLISECONDS));
        p.addLast("http-codec", new HttpServerCodec(new HttpDecoderConfig().setMaxHeaderSize(maxHeaderBytes)));
        p.addLast("keep-alive", new HttpServerKeepAliveHandler());
        p.addLast("admin", handler);
    }
}

package io.outrigger.registry.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.AttributeKey;

/**
 * Keeps a copy of each request's headers as they arrived, before {@code HttpObjectAggregator} adds
 * {@code Content-Length} and drops {@code Transfer-Encoding}; read it back with {@link #of}.
 * <pre>
 *   HttpServerCodec -> PipeliningHandler -> ReceivedHeaders -> HttpObjectAggregator -> ... -> RequestHandler
 * </pre>
 * A request's aggregated message reaches the handler before the next request's head reaches this handler (each
 * message passes the whole pipeline in turn), so the copy the handler reads is its own request's. Stateless and
 * {@code @Sharable}; the copy lives in a channel attribute.
 */
@ChannelHandler.Sharable
public final class ReceivedHeaders extends ChannelInboundHandlerAdapter {
    public static final ReceivedHeaders INSTANCE = new ReceivedHeaders();
    private static final AttributeKey<HttpHeaders> KEY = AttributeKey.valueOf(ReceivedHeaders.class, "headers");

    private ReceivedHeaders() {
    }

    /** The headers of the request being handled on {@code channel} as received, or null if none was seen. */
    public static HttpHeaders of(Channel channel) {
        return channel.attr(KEY).get();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest req) {
            ctx.channel().attr(KEY).set(req.headers().copy());
        }
        ctx.fireChannelRead(msg);
    }
}

package io.outrigger.jsonline;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.outrigger.SidecarContext;
import io.outrigger.config.SidecarConfig;

/**
 * The {@code jsonline} listener of {@code outrigger run}: the line-JSON protocol over TCP,
 * {@code proxied_by} set to the sidecar's configured name. A client that shuts down its output
 * still gets the replies to its requests in flight before the connection closes. A connection
 * without input, without a call in flight and without replies the client takes for
 * {@code listeners.jsonline.idle_timeout_ms} is closed (replies it stopped taking: at the second timeout).
 */
public final class JsonLineListener {
    private JsonLineListener() {
    }

    /**
     * Binds the listener; blocks until bound and throws when the port cannot be bound.
     *
     * @param serverHandler the handler of the server channel (the sidecar's connection tracker)
     */
    public static Channel bind(SidecarContext context, EventLoopGroup group, Class<? extends ServerChannel> channelClass,
                               ChannelHandler serverHandler, String host, SidecarConfig.JsonLine listener) throws InterruptedException {
        JsonLineNode node = new JsonLineNode(context, context.name(), JsonLineNode.DEFAULT_DRAIN_MILLIS);
        return new ServerBootstrap()
                .group(group)
                .channel(channelClass)
                .handler(serverHandler)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                // Lines from the network: reports rate-limited, idle connections closed.
                .childHandler(new JsonLineInitializer(node, false, listener.idleTimeoutMillis()))
                .bind(host, listener.port()).sync().channel();
    }
}

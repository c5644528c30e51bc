package io.outrigger.admin;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.util.concurrent.DefaultEventExecutor;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.outrigger.Sidecar;
import io.outrigger.lifecycle.ConnectionTracker;

import java.util.concurrent.TimeUnit;

/**
 * The admin listener ({@code listeners.admin.port}, example 15000): {@code /ready},
 * {@code /metrics}, {@code /clusters} and {@code /config} over HTTP/1.1.
 *
 * <p>Sockets and HTTP codecs run on the sidecar's event loops like every listener; the answers
 * are built on one separate thread ({@code outrigger-admin}), so rendering a large scrape never
 * delays proxied traffic. That thread stops when the listener's channel closes.
 */
public final class AdminListener {
    private AdminListener() {
    }

    /** Binds the admin listener on the sidecar's bind address; blocks until bound. */
    public static Channel bind(Sidecar sidecar, int port) throws InterruptedException {
        EventExecutor adminThread = new DefaultEventExecutor(new DefaultThreadFactory("outrigger-admin", true));
        AdminHandler handler = new AdminHandler(sidecar, adminThread);
        Channel channel;
        try {
            channel = new ServerBootstrap()
                    .group(sidecar.group())
                    .channel(sidecar.transport().serverChannel())
                    .handler(sidecar.connections())
                    .attr(ConnectionTracker.NOT_LIMITED, Boolean.TRUE) // probes and scrapes get in when the traffic listeners are full
                    .childHandler(new AdminInitializer(handler, sidecar.context().config().http().idleTimeoutMillis(),
                            sidecar.context().config().http().maxHeaderBytes()))
                    .bind(sidecar.context().config().bindAddress(), port)
                    .sync().channel();
        } catch (InterruptedException | RuntimeException e) {
            adminThread.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw e;
        }
        channel.closeFuture().addListener(f -> adminThread.shutdownGracefully(0, 1, TimeUnit.SECONDS));
        return channel;
    }
}

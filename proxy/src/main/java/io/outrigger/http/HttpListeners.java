package io.outrigger.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.outrigger.Sidecar;
import io.outrigger.SidecarContext;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.Endpoint;
import io.outrigger.discovery.Registry;
import io.outrigger.upstream.UpstreamPools;
import io.outrigger.listener.Transports;

/**
 * Binds the HTTP listeners of a sidecar: outbound (the app's calls to other services, routed
 * by Host or proxy-form URI) and inbound (other services' calls to the local app).
 */
public final class HttpListeners {
    private HttpListeners() {
    }

    /** Binds the outbound listener on {@code port} (0 picks a free port); blocks until bound. */
    public static Channel bindOutbound(Sidecar sidecar, int port) throws InterruptedException {
        return bind(sidecar, HttpRoute.outbound(sidecar.context()), port, true);
    }

    /** Binds the inbound listener, forwarding to {@code app}; blocks until bound. */
    public static Channel bindInbound(Sidecar sidecar, int port, Endpoint app) throws InterruptedException {
        return bind(sidecar, HttpRoute.inbound(sidecar.context(), app), port, false);
    }

    /**
     * Waits (at most {@code timeoutMillis}) until the access log has written the line of every
     * request that finished so far; for a sidecar closing after its event loops stopped.
     */
    public static boolean awaitAccessLogWritten(long timeoutMillis) {
        return AccessLog.awaitStderrWritten(timeoutMillis);
    }

    /** @param registryRouted whether the route's instances come from the registry, whose departures close their connections */
    private static Channel bind(Sidecar sidecar, HttpRoute route, int port, boolean registryRouted) throws InterruptedException {
        SidecarContext context = sidecar.context();
        SidecarConfig config = context.config();
        SidecarConfig.Http http = config.http();
        UpstreamPools pools = new UpstreamPools(sidecar.group(), sidecar.transport(), http.poolMaxIdle(), http.idleTimeoutMillis(),
                config.resilience().timeouts().connectMillis(), Math.max(16_384, http.maxHeaderBytes()));
        if (registryRouted) {
            Registry registry = context.registry();
            registry.onChange(() -> pools.retainOnly(registry.allEndpoints()));
        }
        ServerBootstrap bootstrap = new ServerBootstrap();
        Transports.readFromRing(bootstrap, sidecar.group());
        return bootstrap
                .group(sidecar.group())
                .channel(sidecar.transport().serverChannel())
                .option(ChannelOption.SO_BACKLOG, 1024)
                .handler(sidecar.connections())
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new HttpProxyInitializer(context, route, pools))
                .bind(config.bindAddress(), port)
                .sync()
                .channel();
    }
}

package io.outrigger.tcp;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.resolver.AddressResolverGroup;
import io.outrigger.Sidecar;
import io.outrigger.config.SidecarConfig;
import io.outrigger.listener.DnsResolvers;
import io.outrigger.listener.Transports;

import java.net.InetSocketAddress;

/**
 * A raw TCP relay listener ({@code listeners.tcp[i]}): each accepted connection is relayed
 * byte for byte to one instance of the configured service.
 *
 * <p>Accepted channels start with {@code AUTO_READ} off (nothing is read before an upstream is
 * connected) and {@code ALLOW_HALF_CLOSURE} on (a client's FIN is passed on, not turned into a
 * close). Upstream host names are resolved by Netty's asynchronous DNS resolver, so a name in
 * the registry never blocks an event loop; the resolver is closed with the listener.
 */
public final class TcpListener {
    private TcpListener() {
    }

    /**
     * The name the listener is registered under in {@link Sidecar#boundPorts()}: {@code tcp:PORT},
     * or {@code tcp:SERVICE} when the port is 0 (picked at bind time, so not a stable name).
     */
    public static String listenerName(SidecarConfig.Tcp tcp) {
        return "tcp:" + (tcp.port() != 0 ? Integer.toString(tcp.port()) : tcp.service());
    }

    /** Binds the listener on the sidecar's bind address; blocks until bound. */
    public static Channel bind(Sidecar sidecar, SidecarConfig.Tcp tcp) throws InterruptedException {
        Transports transport = sidecar.transport();
        AddressResolverGroup<InetSocketAddress> resolver = DnsResolvers.forTransport(transport);
        Channel channel;
        try {
            ServerBootstrap bootstrap = new ServerBootstrap();
            // No read buffer ring here (see TcpConnectHandler): the ring keeps a multishot receive armed, which
            // ignores the relay's read-after-write backpressure, and a relay whose peer half-closed first then stalled.
            channel = bootstrap
                    .group(sidecar.group())
                    .channel(transport.serverChannel())
                    .handler(sidecar.connections())
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new TcpRelayInitializer(sidecar.context(), transport, resolver, tcp))
                    .bind(sidecar.context().config().bindAddress(), tcp.port())
                    .sync().channel();
        } catch (InterruptedException | RuntimeException e) {
            resolver.close();
            throw e;
        }
        channel.closeFuture().addListener(f -> resolver.close());
        return channel;
    }
}

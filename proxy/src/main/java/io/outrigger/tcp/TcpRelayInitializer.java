package io.outrigger.tcp;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.resolver.AddressResolverGroup;
import io.outrigger.SidecarContext;
import io.outrigger.config.SidecarConfig;
import io.outrigger.listener.ReadBufferShortage;
import io.outrigger.listener.Transports;
import io.outrigger.time.WarnLimiter;

import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The client side of a TCP relay:
 * <pre>
 *   client socket   -> IdleStateHandler(all idle: idle_timeout_ms) -> IdleCloseHandler
 *                   -> TcpConnectHandler  (replaced by RelayHandler(upstream) once connected)
 *   upstream socket -> IdleStateHandler -> IdleCloseHandler -> RelayHandler(client)
 * </pre>
 * Each side closes after {@code idle_timeout_ms} without a read or a completed write, and a
 * closed side closes the other: so an idle relay closes both, and an upstream that stops taking
 * bytes after its client left does not linger. {@code idle_timeout_ms} 0 disables both.
 * Sharable: built once per listener.
 */
final class TcpRelayInitializer extends ChannelInitializer<SocketChannel> {
    private final SidecarContext context;
    private final Transports transport;
    private final AddressResolverGroup<InetSocketAddress> resolver;
    private final SidecarConfig.Tcp tcp;
    private final WarnLimiter refusals;

    TcpRelayInitializer(SidecarContext context, Transports transport, AddressResolverGroup<InetSocketAddress> resolver,
                        SidecarConfig.Tcp tcp) {
        this.context = context;
        this.transport = transport;
        this.resolver = resolver;
        this.tcp = tcp;
        this.refusals = new WarnLimiter(context.ticker());
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        ReadBufferShortage.installOn(ch);
        ChannelPipeline p = ch.pipeline();
        addIdleHandlers(p, tcp.idleTimeoutMillis());
        p.addLast("connect", new TcpConnectHandler(context, transport, resolver, tcp.service(), tcp.idleTimeoutMillis(), refusals));
    }

    static void addIdleHandlers(ChannelPipeline p, long idleTimeoutMillis) {
        if (idleTimeoutMillis > 0) {
            p.addLast("idle", new IdleStateHandler(0, 0, idleTimeoutMillis, TimeUnit.MILLISECONDS));
            p.addLast("idle-close", IdleCloseHandler.INSTANCE);
        }
    }
}

package io.outrigger.listener;

import io.netty.channel.ChannelFactory;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.DatagramChannel;
import io.netty.resolver.AddressResolverGroup;
import io.netty.resolver.NameResolver;
import io.netty.resolver.dns.DnsAddressResolverGroup;
import io.netty.resolver.dns.DnsNameResolverBuilder;
import io.netty.resolver.dns.DnsServerAddressStreamProvider;
import io.netty.resolver.dns.DnsServerAddressStreamProviders;

import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * Asynchronous host-name lookups for outgoing connections (the JDK's lookup would block the
 * event loop). Addresses that are IP literals never reach a name server.
 *
 * <p>On epoll and NIO the resolver's datagram channel runs on the connecting channel's own
 * event loop. On io_uring it runs on one shared loop of {@link Transports#dnsTransport()}
 * (thread {@code outrigger-dns}, started on first use, a daemon): lookups are rare and cached,
 * and that transport's datagram channel is the well-trodden one.
 */
public final class DnsResolvers {
    private static EventLoopGroup dnsGroup;

    private DnsResolvers() {
    }

    /** A resolver group for channels on event loops of {@code transport}. */
    public static AddressResolverGroup<InetSocketAddress> forTransport(Transports transport) {
        Transports dns = transport.dnsTransport();
        DnsNameResolverBuilder builder = new DnsNameResolverBuilder()
                .datagramChannelType(dns.datagramChannel())
                .nameServerProvider(DnsServerAddressStreamProviders.platformDefault());
        if (dns == transport) {
            return new DnsAddressResolverGroup(builder);
        }
        return new OnOwnLoop(builder, dnsLoop(dns));
    }

    private static synchronized EventLoop dnsLoop(Transports dns) {
        if (dnsGroup == null) {
            dnsGroup = dns.newGroup(1, "outrigger-dns");
        }
        return dnsGroup.next();
    }

    /** Resolves on {@code dnsLoop} whatever loop the connecting channel is on. */
    private static final class OnOwnLoop extends DnsAddressResolverGroup {
        private final EventLoop dnsLoop;

        OnOwnLoop(DnsNameResolverBuilder builder, EventLoop dnsLoop) {
            super(builder);
            this.dnsLoop = dnsLoop;
        }

        @Override
        protected NameResolver<InetAddress> newNameResolver(EventLoop eventLoop,
                                                            ChannelFactory<? extends DatagramChannel> channelFactory,
                                                            DnsServerAddressStreamProvider nameServerProvider) throws Exception {
            return super.newNameResolver(dnsLoop, channelFactory, nameServerProvider);
        }
    }
}

package io.outrigger.listener;

import io.netty.channel.ChannelFactory;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.DatagramChannel;
import io.netty.resolver.AbstractAddressResolver;
import io.netty.resolver.AddressResolver;
import io.netty.resolver.AddressResolverGroup;
import io.netty.resolver.NameResolver;
import io.netty.resolver.dns.DnsAddressResolverGroup;
import io.netty.resolver.dns.DnsNameResolverBuilder;
import io.netty.resolver.dns.DnsServerAddressStreamProvider;
import io.netty.resolver.dns.DnsServerAddressStreamProviders;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Promise;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.List;

/**
 * Asynchronous host-name lookups for outgoing connections (the JDK's lookup would block the
 * event loop). Addresses that are IP literals never reach a name server, and a DNS resolver (its
 * datagram socket, and on io_uring its thread) is only built once some address needs a lookup: a
 * registry of IP addresses, the usual case, costs neither.
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
        return new Lazy(transport);
    }

    /**
     * The address of {@code host}: resolved at once when it is an IP literal (no lookup of any
     * kind), else unresolved for the asynchronous resolver.
     */
    public static InetSocketAddress address(String host, int port) {
        byte[] ip = NetUtil.createByteArrayFromIpAddressString(host);
        if (ip == null) {
            return InetSocketAddress.createUnresolved(host, port);
        }
        try {
            return new InetSocketAddress(InetAddress.getByAddress(host, ip), port);
        } catch (UnknownHostException impossible) { // only thrown for a byte array of the wrong length
            throw new IllegalStateException(impossible);
        }
    }

    /** Whether {@code group} (from {@link #forTransport}) has built its DNS resolver: only a host name makes it. */
    static boolean builtDnsResolver(AddressResolverGroup<InetSocketAddress> group) {
        return ((Lazy) group).built();
    }

    private static AddressResolverGroup<InetSocketAddress> dnsGroup(Transports transport) {
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

    /** Builds the DNS resolver group on the first address that needs a lookup; resolved addresses never do. */
    private static final class Lazy extends AddressResolverGroup<InetSocketAddress> {
        private final Transports transport;
        private AddressResolverGroup<InetSocketAddress> dns;
        private boolean closed;

        Lazy(Transports transport) {
            this.transport = transport;
        }

        @Override
        protected AddressResolver<InetSocketAddress> newResolver(EventExecutor executor) {
            return new LazyResolver(this, executor);
        }

        synchronized boolean built() {
            return dns != null;
        }

        synchronized AddressResolver<InetSocketAddress> dnsResolver(EventExecutor executor) {
            if (closed) {
                throw new IllegalStateException("resolver closed");
            }
            if (dns == null) {
                dns = dnsGroup(transport);
            }
            return dns.getResolver(executor);
        }

        @Override
        public void close() {
            AddressResolverGroup<InetSocketAddress> d;
            synchronized (this) {
                closed = true;
                d = dns;
            }
            if (d != null) {
                d.close();
            }
            super.close();
        }
    }

    /**
     * One event loop's resolver: resolved addresses and IP literals are answered here (the base
     * class answers resolved ones), names go to the lazily built DNS resolver.
     */
    private static final class LazyResolver extends AbstractAddressResolver<InetSocketAddress> {
        private final Lazy group;

        LazyResolver(Lazy group, EventExecutor executor) {
            super(executor, InetSocketAddress.class);
            this.group = group;
        }

        @Override
        protected boolean doIsResolved(InetSocketAddress address) {
            return !address.isUnresolved();
        }

        @Override
        protected void doResolve(InetSocketAddress unresolved, Promise<InetSocketAddress> promise) {
            InetSocketAddress literal = address(unresolved.getHostString(), unresolved.getPort());
            if (literal.isUnresolved()) {
                group.dnsResolver(executor()).resolve(unresolved, promise);
            } else {
                promise.setSuccess(literal);
            }
        }

        @Override
        protected void doResolveAll(InetSocketAddress unresolved, Promise<List<InetSocketAddress>> promise) {
            InetSocketAddress literal = address(unresolved.getHostString(), unresolved.getPort());
            if (literal.isUnresolved()) {
                group.dnsResolver(executor()).resolveAll(unresolved, promise);
            } else {
                promise.setSuccess(List.of(literal));
            }
        }
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

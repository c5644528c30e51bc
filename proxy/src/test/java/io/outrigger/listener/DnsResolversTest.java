package io.outrigger.listener;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.local.LocalAddress;
import io.netty.resolver.AddressResolver;
import io.netty.resolver.AddressResolverGroup;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DnsResolversTest {
    private final Transports transport = Transports.best();
    private EventLoopGroup group;
    private AddressResolverGroup<InetSocketAddress> resolvers;

    @BeforeEach
    void setUp() {
        group = transport.newGroup(1, "dns-test");
        resolvers = DnsResolvers.forTransport(transport);
    }

    @AfterEach
    void tearDown() {
        resolvers.close();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void ipLiteralsAreAnsweredWithoutBuildingADnsResolver() throws Exception {
        AddressResolver<InetSocketAddress> r = resolvers.getResolver(group.next());
        InetSocketAddress v4 = r.resolve(InetSocketAddress.createUnresolved("127.0.0.1", 8080)).get(5, TimeUnit.SECONDS);
        assertEquals("127.0.0.1", v4.getAddress().getHostAddress());
        assertEquals(8080, v4.getPort());
        InetSocketAddress v6 = r.resolve(InetSocketAddress.createUnresolved("::1", 8080)).get(5, TimeUnit.SECONDS);
        assertTrue(v6.getAddress().isLoopbackAddress(), v6.toString());
        List<InetSocketAddress> all = r.resolveAll(InetSocketAddress.createUnresolved("10.1.2.3", 1)).get(5, TimeUnit.SECONDS);
        assertEquals(List.of(new InetSocketAddress("10.1.2.3", 1)), all);

        assertTrue(r.isResolved(new InetSocketAddress("127.0.0.1", 1)));
        assertFalse(r.isResolved(InetSocketAddress.createUnresolved("127.0.0.1", 1)));
        assertFalse(r.isSupported(new LocalAddress("x")));
        assertFalse(DnsResolvers.builtDnsResolver(resolvers));
    }

    @Test
    void aConnectToAnIpLiteralNeedsNoDnsResolver() throws Exception {
        Channel server = new ServerBootstrap().group(group).channel(transport.serverChannel())
                .childHandler(new ChannelInboundHandlerAdapter()).bind("127.0.0.1", 0).sync().channel();
        try {
            int port = ((InetSocketAddress) server.localAddress()).getPort();
            Channel client = new Bootstrap().group(group).channel(transport.clientChannel()).resolver(resolvers)
                    .handler(new ChannelInboundHandlerAdapter())
                    .connect(DnsResolvers.address("127.0.0.1", port)).sync().channel();
            assertTrue(client.isActive());
            client.close().sync();
            assertFalse(DnsResolvers.builtDnsResolver(resolvers));
        } finally {
            server.close().sync();
        }
    }

    @Test
    void hostNamesGoThroughTheDnsResolver() throws Exception {
        AddressResolver<InetSocketAddress> r = resolvers.getResolver(group.next());
        // "localhost" comes from the hosts file: no name server is asked, and no traffic leaves the machine.
        InetSocketAddress a = r.resolve(InetSocketAddress.createUnresolved("localhost", 9)).get(5, TimeUnit.SECONDS);
        assertTrue(a.getAddress().isLoopbackAddress(), a.toString());
        assertTrue(DnsResolvers.builtDnsResolver(resolvers));
    }

    @Test
    void addressResolvesLiteralsOnlyAndNeverLooksUp() {
        assertFalse(DnsResolvers.address("192.0.2.1", 80).isUnresolved());
        assertFalse(DnsResolvers.address("::1", 80).isUnresolved());
        InetSocketAddress name = DnsResolvers.address("service-b.internal", 80);
        assertTrue(name.isUnresolved());
        assertEquals("service-b.internal", name.getHostString());
    }
}

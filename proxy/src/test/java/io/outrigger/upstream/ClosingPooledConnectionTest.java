package io.outrigger.upstream;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.timeout.IdleStateEvent;
import io.outrigger.discovery.Endpoint;
import io.outrigger.listener.Transports;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A pooled connection that its handler has closed (it idled out, or the instance sent bytes nobody asked
 * for) must not be leased again, also before the close has completed. Found by a chaos run (40 clients,
 * upstreams that sometimes send a stray response after their answer): on io_uring, POSTs with bodies past
 * the retry buffer got 502s although their instance never saw them. On io_uring a close waits for the
 * connection's outstanding read to be cancelled, and until then the channel still reads as active: a
 * request leased onto it in that window went out on a connection about to close, and the caller got a
 * 502 "upstream reset the connection" (a POST with a body past the retry buffer cannot be sent again).
 */
class ClosingPooledConnectionTest {
    private EventLoopGroup group;
    private EventLoopGroup serverGroup;
    private Channel server;

    @AfterEach
    void tearDown() {
        if (server != null) {
            server.close().syncUninterruptibly();
        }
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        if (serverGroup != null) {
            serverGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private Endpoint serve(CompletableFuture<Channel> acceptedOne) throws Exception {
        serverGroup = Transports.NIO.newGroup(1, "closing-pool-upstream");
        server = new ServerBootstrap().group(serverGroup).channel(Transports.NIO.serverChannel())
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter());
                        acceptedOne.complete(ch);
                    }
                }).bind("127.0.0.1", 0).sync().channel();
        return new Endpoint("127.0.0.1", ((InetSocketAddress) server.localAddress()).getPort());
    }

    private UpstreamPools pools(Transports transport) {
        assumeTrue(transport.isAvailable(), transport + " is not available here");
        group = transport.newDataPlaneGroup(1, "closing-pool-test");
        return new UpstreamPools(group, transport, 4, 60_000, 1000, 8192);
    }

    @ParameterizedTest
    @EnumSource(Transports.class)
    void aPooledConnectionClosedForIdlingOutIsNotLeasedWhileItCloses(Transports transport) throws Exception {
        UpstreamPools pools = pools(transport);
        Endpoint endpoint = serve(new CompletableFuture<>());
        EventLoop loop = group.next();
        Channel ch = loop.submit(() -> pools.connect(loop, endpoint)).get(5, TimeUnit.SECONDS).sync().channel();
        // One task: released (its read armed), idled out, asked for again, as busy event loop turns can line up.
        Channel leased = loop.submit(() -> {
            pools.release(ch);
            ch.pipeline().fireUserEventTriggered(IdleStateEvent.READER_IDLE_STATE_EVENT);
            return pools.pollIdle(loop, endpoint);
        }).get(5, TimeUnit.SECONDS);
        assertNull(leased, "a connection whose close was asked for is not handed out");
        assertTrue(ch.closeFuture().await(5, TimeUnit.SECONDS));
    }
}

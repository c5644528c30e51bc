package io.outrigger.upstream;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.outrigger.discovery.Endpoint;
import io.outrigger.listener.Transports;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class UpstreamPoolsTest {
    private EventLoopGroup group;
    private Channel server;
    private Endpoint endpoint;
    private final AtomicInteger accepted = new AtomicInteger();

    @BeforeEach
    void setUp() throws Exception {
        group = Transports.NIO.newGroup(1, "pool-test");
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        accepted.incrementAndGet();
                    }
                }).bind("127.0.0.1", 0).sync().channel();
        endpoint = new Endpoint("127.0.0.1", ((InetSocketAddress) server.localAddress()).getPort());
    }

    @AfterEach
    void tearDown() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private <T> T onLoop(EventLoop loop, Callable<T> task) throws Exception {
        return loop.submit(task).get(5, TimeUnit.SECONDS);
    }

    @Test
    void reusesReleasedConnectionsAndBoundsIdleOnes() throws Exception {
        UpstreamPools pools = new UpstreamPools(group, Transports.NIO, 2, 60_000, 1000, 8192);
        EventLoop loop = group.next();
        List<Channel> open = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            open.add(onLoop(loop, () -> pools.connect(loop, endpoint)).sync().channel());
        }
        for (Channel ch : open) {
            onLoop(loop, () -> {
                pools.release(ch);
                return null;
            });
        }
        assertEquals(2, (int) onLoop(loop, () -> pools.idleCount(loop, endpoint)));
        assertTrue(open.get(2).closeFuture().await(2, TimeUnit.SECONDS), "the third exceeds pool_max_idle and is closed");

        Channel reused = onLoop(loop, () -> pools.pollIdle(loop, endpoint));
        assertSame(open.get(1), reused, "last in, first out");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (accepted.get() < 3 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertEquals(3, accepted.get(), "three connections were opened, none more");
    }

    @Test
    void anInstanceWhoseConnectionsAllClosedLeavesNothingInThePool() throws Exception {
        // No idle timeout within the test: on a loaded machine the first connections idled out before the count.
        UpstreamPools pools = new UpstreamPools(group, Transports.NIO, 4, 60_000, 1000, 8192);
        EventLoop loop = group.next();
        List<Channel> servers = new ArrayList<>();
        List<Channel> pooled = new ArrayList<>();
        try {
            for (int i = 0; i < 20; i++) { // instances that come and go, each on an address of its own
                Channel s = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                        .childHandler(new ChannelInitializer<Channel>() {
                            @Override
                            protected void initChannel(Channel ch) {
                            }
                        }).bind("127.0.0.1", 0).sync().channel();
                servers.add(s);
                Endpoint e = new Endpoint("127.0.0.1", ((InetSocketAddress) s.localAddress()).getPort());
                Channel ch = onLoop(loop, () -> pools.connect(loop, e)).sync().channel();
                // Counted in the same task as the release, so the count depends on no timing at all.
                int added = onLoop(loop, () -> {
                    int before = pools.endpointCount(loop);
                    pools.release(ch);
                    return pools.endpointCount(loop) - before;
                });
                assertEquals(1, added, "the instance is in the pool while its released connection is");
                pooled.add(ch);
            }
            for (Channel ch : pooled) {
                ch.close(); // as an instance's close or the idle timeout would
                assertTrue(ch.closeFuture().await(2, TimeUnit.SECONDS));
            }
            assertEquals(0, (int) onLoop(loop, () -> pools.endpointCount(loop)),
                    "endpoints whose connections all closed are forgotten");
        } finally {
            servers.forEach(Channel::close);
        }
    }

    @Test
    void idleConnectionsCloseAfterIdleTimeout() throws Exception {
        UpstreamPools pools = new UpstreamPools(group, Transports.NIO, 4, 100, 1000, 8192);
        EventLoop loop = group.next();
        Channel ch = onLoop(loop, () -> pools.connect(loop, endpoint)).sync().channel();
        onLoop(loop, () -> {
            pools.release(ch);
            return null;
        });
        assertTrue(ch.closeFuture().await(2, TimeUnit.SECONDS), "closed after idle_timeout_ms");
        assertNull(onLoop(loop, () -> pools.pollIdle(loop, endpoint)));
        assertEquals(0, (int) onLoop(loop, () -> pools.idleCount(loop, endpoint)));
    }
}

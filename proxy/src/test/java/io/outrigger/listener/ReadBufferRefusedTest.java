package io.outrigger.listener;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.outrigger.testing.ExhaustedAllocator;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A connection whose read buffer the sidecar's loop cannot allocate (out of direct memory) is failed with
 * its cause and closed, and the loop says so in its WARN line, on every transport. On epoll and NIO, where
 * Netty fails such a read itself, the line was missing: a sidecar out of direct memory reset connections
 * without a word above DEBUG (it-tests' DirectMemoryExhaustionTest never saw it run out).
 */
class ReadBufferRefusedTest {

    @ParameterizedTest
    @EnumSource(Transports.class)
    void aRefusedReadBufferFailsTheConnectionAndIsLogged(Transports transport) throws Exception {
        assumeTrue(transport.isAvailable(), transport + " is not available here");
        List<Throwable> seen = new CopyOnWriteArrayList<>();
        EventLoopGroup group = transport.newGroup(1, "read-refused-test"); // the sidecar's loops: out-of-memory guarded
        PrintStream stderr = System.err;
        ByteArrayOutputStream logged = new ByteArrayOutputStream();
        System.setErr(new PrintStream(logged, true, StandardCharsets.UTF_8)); // slf4j-simple looks System.err up per line
        try {
            Channel server = new ServerBootstrap().group(group).channel(transport.serverChannel())
                    .childOption(ChannelOption.ALLOCATOR, ExhaustedAllocator.DIRECT)
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ReadBufferShortage.installOn(ch);
                            ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                                @Override
                                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                    seen.add(cause);
                                    ctx.close();
                                }
                            });
                        }
                    })
                    .bind("127.0.0.1", 0).sync().channel();
            try (Socket client = new Socket("127.0.0.1", ((InetSocketAddress) server.localAddress()).getPort())) {
                client.setSoTimeout(5_000);
                client.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
                InputStream in = client.getInputStream();
                try {
                    assertEquals(-1, in.read(), "nothing but the end");
                } catch (IOException reset) {
                    // closed with the byte unread: a reset is an end too
                }
            } finally {
                server.close().sync();
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (!logged.toString(StandardCharsets.UTF_8).contains("event loop out of memory") && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
        } finally {
            System.setErr(stderr);
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
        String log = logged.toString(StandardCharsets.UTF_8);
        assertTrue(log.contains("event loop out of memory: failed to allocate") && log.contains("byte(s) of direct memory"),
                transport + ": the loop says it ran out, in one line:\n" + log);
        assertEquals(1, log.lines().filter(l -> l.contains("event loop out of memory")).count(), log);
        assertTrue(!seen.isEmpty(), "the connection was failed with its cause");
        assertInstanceOf(OutOfMemoryError.class, seen.get(0));
    }
}

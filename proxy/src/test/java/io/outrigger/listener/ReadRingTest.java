package io.outrigger.listener;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.uring.IoUringChannelOption;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The data plane's read buffer ring ({@link Transports#newDataPlaneGroup}): connections bootstrapped through
 * {@link Transports#readFromRing} on such a group read into slices of the ring's buffers and get every byte,
 * in order (with {@code -Doutrigger.read_ring=true}); without it, as by default, and on the other transports, reads go without it.
 */
class ReadRingTest {

    @Test
    void connectionsOnADataPlaneGroupReadEveryByteFromTheRing() throws Exception {
        assumeTrue(Transports.IO_URING.readRingSupported(), "io_uring with incremental buffer rings (Linux 6.12+) is not available here");
        String before = System.getProperty(Transports.READ_RING_PROPERTY);
        System.setProperty(Transports.READ_RING_PROPERTY, "true");
        try {
            connectionsReadEveryByteFromTheRing();
        } finally {
            restore(before);
        }
    }

    private static void connectionsReadEveryByteFromTheRing() throws Exception {
        EventLoopGroup group = Transports.IO_URING.newDataPlaneGroup(1, "ring-test");
        try {
            AtomicInteger reads = new AtomicInteger();
            AtomicInteger ringReads = new AtomicInteger();
            CompletableFuture<Short> acceptedGroupId = new CompletableFuture<>();
            ServerBootstrap server = new ServerBootstrap().group(group).channel(Transports.IO_URING.serverChannel())
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            acceptedGroupId.complete(ch.config().getOption(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID));
                            ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                                @Override
                                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                    reads.incrementAndGet();
                                    if (((ByteBuf) msg).unwrap() != null) { // a slice of a ring buffer; a read of its own has no parent
                                        ringReads.incrementAndGet();
                                    }
                                    ctx.writeAndFlush(msg); // echo
                                }
                            });
                        }
                    });
            Transports.readFromRing(server, group);
            Channel listener = server.bind("127.0.0.1", 0).sync().channel();

            byte[] sent = new byte[4 << 20];
            new Random(7).nextBytes(sent);
            ByteArrayOutputStream echoed = new ByteArrayOutputStream();
            CompletableFuture<byte[]> all = new CompletableFuture<>();
            Bootstrap client = new Bootstrap().group(group).channel(Transports.IO_URING.clientChannel())
                    .handler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            ByteBuf buf = (ByteBuf) msg;
                            try {
                                byte[] bytes = new byte[buf.readableBytes()];
                                buf.readBytes(bytes);
                                echoed.writeBytes(bytes);
                            } finally {
                                buf.release();
                            }
                            if (echoed.size() >= sent.length) {
                                all.complete(echoed.toByteArray());
                            }
                        }
                    });
            Transports.readFromRing(client, group.next());
            Channel ch = client.connect(listener.localAddress()).sync().channel();
            for (int off = 0; off < sent.length; off += 100_000) { // many writes of odd sizes, so reads split anywhere
                ch.writeAndFlush(Unpooled.wrappedBuffer(sent, off, Math.min(100_000, sent.length - off)));
            }

            byte[] got = all.get(30, TimeUnit.SECONDS);
            assertEquals(sent.length, got.length);
            assertArrayEquals(sent, got);
            assertEquals(Transports.READ_RING_GROUP, acceptedGroupId.get(5, TimeUnit.SECONDS));
            assertTrue(reads.get() > 1, "reads: " + reads.get());
            assertEquals(reads.get(), ringReads.get(), "every read of the accepted connection came from the ring");
            ch.close().sync();
            listener.close().sync();
        } finally {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
        }
    }

    @Test
    void thePropertyTurnsTheRingOffAndOtherTransportsHaveNone() {
        assertFalse(Transports.EPOLL.readRing());
        assertFalse(Transports.NIO.readRing());
        String before = System.getProperty(Transports.READ_RING_PROPERTY);
        try {
            System.clearProperty(Transports.READ_RING_PROPERTY);
            assertFalse(Transports.IO_URING.readRing(), "on by default");
            System.setProperty(Transports.READ_RING_PROPERTY, " FALSE ");
            assertFalse(Transports.IO_URING.readRing());
            EventLoopGroup group = Transports.best().newDataPlaneGroup(1, "no-ring-test"); // io_uring where this machine has it
            try {
                Bootstrap b = new Bootstrap();
                Transports.readFromRing(b, group);
                assertFalse(b.config().options().containsKey(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID));
            } finally {
                group.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
            }
        } finally {
            restore(before);
        }
    }

    private static void restore(String before) {
        if (before == null) {
            System.clearProperty(Transports.READ_RING_PROPERTY);
        } else {
            System.setProperty(Transports.READ_RING_PROPERTY, before);
        }
    }
}

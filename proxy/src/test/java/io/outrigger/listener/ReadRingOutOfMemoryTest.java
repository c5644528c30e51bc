package io.outrigger.listener;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.uring.IoUringBufferRingAllocator;
import io.netty.channel.uring.IoUringBufferRingExhaustedEvent;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The read ring's buffers stay with the ring while the kernel may fill them, even when direct memory runs out.
 *
 * <p>The ring's buffers here come from memory the test owns, a buffer never handed out twice, and only a few more
 * than the ring holds may be alive at once, as in a sidecar near its direct memory limit: a single refill
 * succeeds, a batch of them does not. Reads much larger than the ring arrive while the loop is held, so the kernel
 * finds the ring empty. Once reading settles, every buffer the ring let go of is painted; a second round of reads
 * must leave the paint alone. With the ring Netty 4.2.18 grows from a smaller start, the failed growth released the
 * buffers the kernel still had, and the second round landed in them: in the sidecar that was freed memory, and the
 * JVM crashed on a corrupted native heap.
 */
class ReadRingOutOfMemoryTest {
    private static final int BUFFER = Transports.READ_RING_BUFFER_BYTES;
    private static final int CLIENTS = 64;
    private static final int SOCKET_BUFFER = 1 << 20;
    private static final byte PAINT = (byte) 0xA5;

    @Test
    void noBufferIsLetGoWhileTheKernelMayStillFillIt() throws Exception {
        assumeTrue(Transports.IO_URING.readRing(), "io_uring with incremental buffer rings (Linux 6.12+) is not available here");
        OwnedBuffers buffers = new OwnedBuffers(2048);
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("ring-oom-test", true),
                Transports.readRingFactory(buffers));
        Map<Integer, AtomicLong> received = new ConcurrentHashMap<>(); // by client port
        Set<Integer> closed = ConcurrentHashMap.newKeySet(); // connections closed for a refused buffer, as the sidecar closes them
        AtomicInteger exhausted = new AtomicInteger();
        AtomicInteger foreign = new AtomicInteger();
        List<Socket> clients = new ArrayList<>();
        try {
            // Room for a whole burst in each connection's socket, so that the clients' writes are all in while the loop is held.
            ServerBootstrap server = new ServerBootstrap().group(group).channel(Transports.IO_URING.serverChannel())
                    .option(ChannelOption.SO_RCVBUF, SOCKET_BUFFER)
                    .childOption(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID, Transports.READ_RING_GROUP)
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            int port = ((InetSocketAddress) ch.remoteAddress()).getPort();
                            AtomicLong count = received.computeIfAbsent(port, p -> new AtomicLong());
                            ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                                @Override
                                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                    ByteBuf read = (ByteBuf) msg;
                                    for (int i = read.readerIndex(); i < read.writerIndex(); i++) {
                                        if (read.getByte(i) != PAYLOAD) {
                                            foreign.incrementAndGet();
                                        }
                                    }
                                    count.addAndGet(read.readableBytes());
                                    read.release();
                                }

                                @Override
                                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                                    if (evt instanceof IoUringBufferRingExhaustedEvent) {
                                        exhausted.incrementAndGet();
                                    }
                                    ctx.fireUserEventTriggered(evt);
                                }

                                @Override
                                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                    closed.add(port);
                                    ctx.close();
                                }
                            });
                        }
                    });
            Channel listener = server.bind("127.0.0.1", 0).sync().channel();
            for (int i = 0; i < CLIENTS; i++) {
                Socket client = new Socket();
                client.setSendBufferSize(SOCKET_BUFFER);
                client.connect(listener.localAddress());
                clients.add(client);
            }
            Map<Integer, Long> expected = new HashMap<>();
            send(clients, BUFFER / 16, expected, closed);
            awaitRead("the first bytes", received, expected, closed);
            // From here on memory is short: the buffers the ring holds now and a few more, no second batch.
            buffers.limitToAliveNowAnd(4);

            // Several times what the ring holds arrives while the loop is held: its next turn finds the ring empty.
            CountDownLatch held = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            group.next().execute(() -> {
                held.countDown();
                try {
                    release.await(30, TimeUnit.SECONDS); // the test holds its own loop, so that the reads pile up
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            assertTrue(held.await(10, TimeUnit.SECONDS), "the loop never ran the task");
            try {
                send(clients, 10 * BUFFER, expected, closed);
            } finally {
                release.countDown();
            }
            awaitRead("the burst", received, expected, closed);
            assertTrue(exhausted.get() + buffers.refused.get() > 0, "the ring never ran out: the test did not test (" + buffers + ")");

            buffers.paintReleased();
            send(clients, 4 * BUFFER, expected, closed);
            awaitRead("the second round", received, expected, closed);
            assertTrue(closed.size() < CLIENTS, "every connection closed: nothing read in the second round");
            assertEquals(0, foreign.get(), "bytes read that no client sent");
            assertEquals(0, buffers.paintedAndWritten(), "buffers the ring let go of, written by the kernel afterwards ("
                    + buffers + "; " + closed.size() + " connections closed)");
        } finally {
            for (Socket c : clients) {
                c.close();
            }
            group.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
        }
    }

    private static final byte PAYLOAD = 0x3C;

    /** Sends {@code perClient} bytes on each client whose connection the server has not closed, adding them to {@code expected}. */
    private static void send(List<Socket> clients, int perClient, Map<Integer, Long> expected, Set<Integer> closed) {
        byte[] bytes = new byte[perClient];
        Arrays.fill(bytes, PAYLOAD);
        for (Socket c : clients) {
            if (closed.contains(c.getLocalPort())) {
                continue;
            }
            try {
                OutputStream out = c.getOutputStream();
                out.write(bytes);
                out.flush();
                expected.merge(c.getLocalPort(), (long) perClient, Long::sum);
            } catch (IOException closedMeanwhile) {
                // the server closed it since: nothing more is expected of it
            }
        }
    }

    /** Waits until every connection has read what its client sent, or was closed. */
    private static void awaitRead(String what, Map<Integer, AtomicLong> received, Map<Integer, Long> expected, Set<Integer> closed) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!expected.entrySet().stream().allMatch(e -> closed.contains(e.getKey())
                || received.containsKey(e.getKey()) && received.get(e.getKey()).get() == e.getValue())) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what + " to be read");
            Thread.onSpinWait();
        }
    }

    /**
     * Ring buffers from memory the test owns, each handed out once; past a limit of buffers alive at a time, refused
     * with an {@link OutOfMemoryError}, as the sidecar's allocator refuses past its direct memory limit.
     */
    private static final class OwnedBuffers implements IoUringBufferRingAllocator {
        private final ByteBuffer memory;
        private int limit = Integer.MAX_VALUE;
        private final List<ByteBuf> handedOut = new ArrayList<>();
        private final List<Integer> paintedRegions = new ArrayList<>();
        final AtomicInteger refused = new AtomicInteger();
        int painted;

        OwnedBuffers(int count) {
            this.memory = ByteBuffer.allocateDirect(count * BUFFER);
        }

        /** From now on, at most the buffers alive now and {@code more} alive at a time. */
        synchronized void limitToAliveNowAnd(int more) {
            limit = alive() + more;
        }

        private int alive() {
            return (int) handedOut.stream().filter(b -> b.refCnt() > 0).count();
        }

        @Override
        public synchronized ByteBuf allocate() {
            int alive = alive();
            if (alive >= limit || (handedOut.size() + 1) * BUFFER > memory.capacity()) {
                refused.incrementAndGet();
                throw new OutOfMemoryError("refused by the test: " + alive + " ring buffers alive");
            }
            ByteBuf b = Unpooled.wrappedBuffer(memory.slice(handedOut.size() * BUFFER, BUFFER)).clear();
            handedOut.add(b);
            return b;
        }

        @Override
        public void lastBytesRead(int attempted, int actual) {
        }

        @Override
        public synchronized String toString() {
            return handedOut.size() + " buffers handed out, " + alive() + " alive, at most " + limit + ", " + refused.get() + " refused";
        }

        /** Paints every buffer the ring let go of (and nothing holds); returns nothing, remembers which. */
        synchronized void paintReleased() {
            for (int i = 0; i < handedOut.size(); i++) {
                if (handedOut.get(i).refCnt() == 0) {
                    for (int j = 0; j < BUFFER; j++) {
                        memory.put(i * BUFFER + j, PAINT);
                    }
                    paintedRegions.add(i);
                }
            }
            painted = paintedRegions.size();
        }

        /** How many painted buffers have lost some of their paint since. */
        synchronized int paintedAndWritten() {
            int written = 0;
            for (int i : paintedRegions) {
                for (int j = 0; j < BUFFER; j++) {
                    if (memory.get(i * BUFFER + j) != PAINT) {
                        written++;
                        break;
                    }
                }
            }
            return written;
        }
    }
}

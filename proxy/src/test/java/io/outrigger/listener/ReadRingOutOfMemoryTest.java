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
import io.netty.channel.IoHandlerFactory;
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
 * The read ring's buffers when direct memory runs out ({@link ReadRingAllocator}): none is let go of while the kernel
 * may still fill it, none is lost, and a loop whose ring cannot be filled at all still reads.
 *
 * <p>The ring's buffers here come from memory the test owns, a buffer never handed out twice, and only a few more
 * than the ring holds may be alive at once, as in a sidecar near its direct memory limit: a single refill
 * succeeds, a batch of them does not. Reads much larger than the ring arrive while the loop is held, so the kernel
 * finds the ring empty and Netty grows it. Once reading settles, every buffer the ring let go of is painted; a second
 * round of reads must leave the paint alone. When the growth's batch was refused, Netty 4.2.18 released the buffers
 * the kernel still had, and the second round landed in them (20 painted buffers written): in the sidecar that was
 * freed memory, and the JVM crashed on a corrupted native heap.
 */
class ReadRingOutOfMemoryTest {
    private static final int BUFFER = Transports.READ_RING_BUFFER_BYTES;
    private static final int CLIENTS = 64;
    private static final int SOCKET_BUFFER = 1 << 20;
    private static final byte PAINT = (byte) 0xA5;

    @Test
    void noBufferIsLetGoWhileTheKernelMayStillFillIt() throws Exception {
        assumeTrue(Transports.IO_URING.readRingSupported(), "io_uring with incremental buffer rings (Linux 6.12+) is not available here");
        OwnedBuffers buffers = new OwnedBuffers(2048);
        try (RingServer server = new RingServer(new ReadRingAllocator(buffers, BUFFER))) {
            server.send(BUFFER / 16);
            server.awaitRead("the first bytes");
            // From here on memory is short: the buffers the ring holds now and a few more, no second batch.
            buffers.limitToAliveNowAnd(4);

            // Several times what the ring holds arrives while the loop is held: its next turn finds the ring empty.
            server.sendWhileTheLoopIsHeld(10 * BUFFER);
            server.awaitRead("the burst");
            assertTrue(server.exhausted.get() + buffers.refused.get() > 0, "the ring never ran out: the test did not test (" + buffers + ")");

            buffers.limitToAliveNowAnd(Integer.MAX_VALUE / 2); // memory is back
            buffers.paintReleased();
            server.send(4 * BUFFER);
            server.awaitRead("the second round");
            assertTrue(server.closed.size() < CLIENTS, "every connection closed: nothing read in the second round");
            assertEquals(0, server.foreign.get(), "bytes read that no client sent");
            assertEquals(0, buffers.paintedAndWritten(), "buffers the ring let go of, written by the kernel afterwards ("
                    + buffers + "; " + server.closed.size() + " connections closed)");
        }
    }

    /**
     * A single refill the pool refuses (outside Netty's batch fill) takes a buffer of the JDK's while fewer than the
     * limit are held, and is refused past it; a buffer released makes room again.
     */
    @Test
    void singleRefillsTakeTheJdksMemoryUpToALimit() {
        ReadRingAllocator allocator = new ReadRingAllocator(REFUSING, BUFFER, 1);
        ByteBuf first = allocator.allocate();
        assertEquals(BUFFER, first.writableBytes());
        OutOfMemoryError refused = org.junit.jupiter.api.Assertions.assertThrows(OutOfMemoryError.class, allocator::allocate);
        assertEquals("refused by the test", refused.getMessage());
        assertEquals(1, allocator.overflowHeld());
        first.release();
        assertEquals(0, allocator.overflowHeld());
        allocator.allocate().release();
        assertEquals(0, allocator.overflowHeld());
    }

    /**
     * A loop whose ring cannot be filled as it starts (out of direct memory) lives on and reads without it
     * ({@link OutOfMemoryGuardIoHandler}): the error left Netty's start of the loop and ended its thread, and the
     * connections on it were never read.
     */
    @Test
    void aLoopWhoseRingCannotBeFilledReadsWithoutIt() throws Exception {
        assumeTrue(Transports.IO_URING.readRingSupported(), "io_uring with incremental buffer rings (Linux 6.12+) is not available here");
        try (RingServer server = new RingServer(OutOfMemoryGuardIoHandler.wrap(Transports.readRingFactory(REFUSING)))) {
            server.send(1024);
            server.awaitRead("reads without the ring");
            assertEquals(Set.of(), server.closed, "connections closed");
        }
    }

    private static final byte PAYLOAD = 0x3C;

    /** A ring allocator that refuses every buffer. */
    private static final IoUringBufferRingAllocator REFUSING = new IoUringBufferRingAllocator() {
        @Override
        public ByteBuf allocate() {
            throw new OutOfMemoryError("refused by the test");
        }

        @Override
        public void lastBytesRead(int attempted, int actual) {
        }
    };

    /**
     * A one-loop io_uring group whose ring takes its buffers from {@code allocator}, a server on it whose connections read
     * from the ring (closed on any error, as the sidecar closes them), and {@value #CLIENTS} clients connected to it.
     */
    private static final class RingServer implements AutoCloseable {
        final Map<Integer, AtomicLong> received = new ConcurrentHashMap<>(); // by client port
        final Set<Integer> closed = ConcurrentHashMap.newKeySet();
        final AtomicInteger exhausted = new AtomicInteger();
        final AtomicInteger foreign = new AtomicInteger();
        private final Map<Integer, Long> expected = new HashMap<>();
        private final List<Socket> clients = new ArrayList<>();
        private final EventLoopGroup group;

        RingServer(IoUringBufferRingAllocator allocator) throws Exception {
            this(Transports.readRingFactory(allocator));
        }

        RingServer(IoHandlerFactory factory) throws Exception {
            group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("ring-oom-test", true), factory);
            try {
                // Room for a whole burst in each connection's socket, so that the clients' writes are all in while the loop is held.
                Channel listener = new ServerBootstrap().group(group).channel(Transports.IO_URING.serverChannel())
                        .option(ChannelOption.SO_RCVBUF, SOCKET_BUFFER)
                        .childOption(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID, Transports.READ_RING_GROUP)
                        .childHandler(new ChannelInitializer<>() {
                            @Override
                            protected void initChannel(Channel ch) {
                                ch.pipeline().addLast(new Counting(((InetSocketAddress) ch.remoteAddress()).getPort()));
                            }
                        })
                        .bind("127.0.0.1", 0).sync().channel();
                for (int i = 0; i < CLIENTS; i++) {
                    Socket client = new Socket();
                    client.setSendBufferSize(SOCKET_BUFFER);
                    client.connect(listener.localAddress());
                    clients.add(client);
                }
            } catch (Exception e) {
                close();
                throw e;
            }
        }

        /** Counts what a connection reads, and any byte no client sent; closes it on an error. */
        private final class Counting extends ChannelInboundHandlerAdapter {
            private final int port;
            private final AtomicLong count;

            Counting(int port) {
                this.port = port;
                this.count = received.computeIfAbsent(port, p -> new AtomicLong());
            }

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
        }

        /** Sends {@code perClient} bytes on each client whose connection the server has not closed. */
        void send(int perClient) {
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

        /** Sends while the loop is held by a task of the test's, so that the reads pile up in the sockets. */
        void sendWhileTheLoopIsHeld(int perClient) throws InterruptedException {
            CountDownLatch held = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            group.next().execute(() -> {
                held.countDown();
                try {
                    release.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            assertTrue(held.await(10, TimeUnit.SECONDS), "the loop never ran the task");
            try {
                send(perClient);
            } finally {
                release.countDown();
            }
        }

        /** Waits until every connection has read what its client sent, or was closed. */
        void awaitRead(String what) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!expected.entrySet().stream().allMatch(e -> closed.contains(e.getKey())
                    || received.containsKey(e.getKey()) && received.get(e.getKey()).get() == e.getValue())) {
                assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what + " to be read");
                Thread.onSpinWait();
            }
        }

        @Override
        public void close() throws Exception {
            for (Socket c : clients) {
                c.close();
            }
            group.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
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

        synchronized int alive() {
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

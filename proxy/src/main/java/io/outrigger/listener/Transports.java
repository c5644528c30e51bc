package io.outrigger.listener;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringBufferRingAllocator;
import io.netty.channel.uring.IoUringBufferRingConfig;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.channel.uring.IoUringFixedBufferRingAllocator;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringIoHandlerConfig;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.internal.PlatformDependent;

import org.slf4j.LoggerFactory;

import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The socket transport. On Linux, io_uring when the kernel offers it (submissions and
 * completions batched per event-loop turn: about a quarter less kernel time per proxied
 * request than epoll on loopback), else native epoll, else the JDK's NIO.
 *
 * <p>{@code -Doutrigger.transport=io_uring|epoll|nio} picks one; a transport that cannot load
 * falls back to the next in that order; {@code auto}, like no value, picks the best. Container
 * runtimes often forbid io_uring (Docker's default seccomp profile does): the sidecar then runs on
 * epoll without any setting.
 *
 * <p>DNS lookups never run on io_uring: see {@link #dnsTransport()}.
 *
 * <p>io_uring accepts one connection per submission, not with Netty's multishot accept (unless
 * {@code -D}{@value #MULTISHOT_ACCEPT_PROPERTY} says otherwise): after a failed accept (out of
 * file descriptors, EMFILE) Netty 4.2.18 re-arms a multishot accept at once, even with reads
 * turned off, so a listener could not pause accepting and its loop spun on the failing accept.
 *
 * <p>Nor does io_uring wait for readiness with Netty's multishot POLLIN (unless
 * {@code -D}{@value #MULTISHOT_POLL_PROPERTY} says otherwise): in Netty 4.2.18 a connection whose peer sent
 * data and reset it at once, while the sidecar had no read armed (a streamed request body waits for its
 * upstream's connect), was never read again, so the reset went unseen until an idle timeout; the
 * exchange held its upstream connection meanwhile and ended as a 408, or as a 502 blamed on the instance.
 *
 * <p>With {@code -D}{@value #READ_RING_PROPERTY}{@code =true}, the data plane's io_uring loops
 * ({@link #newDataPlaneGroup}) read into a provided-buffer ring where the kernel consumes its buffers
 * incrementally (Linux 6.12 and later): one armed multishot receive per
 * connection, its bytes landing in a slice of a shared {@value #READ_RING_BUFFER_BYTES}-byte buffer. Without
 * a ring, Netty 4.2.18 arms a {@code POLL_ADD} before each receive and allocates the read buffer when the
 * poll fires, so each read takes two submissions and two completions; with it, one completion. In the
 * benchmark that is about 7% less of the event loop's CPU per proxied request, and 4-7% more requests/s at 64 connections
 * (bench/README.md). Off by default; {@code -D}{@value #READ_RING_PROPERTY}{@code =true} turns it on (see {@link #readRing}).
 */
public enum Transports {
    IO_URING, EPOLL, NIO;

    /** The system property that picks a transport. */
    public static final String PROPERTY = "outrigger.transport";
    /** Netty's switch for multishot accept on io_uring; off here unless set. */
    static final String MULTISHOT_ACCEPT_PROPERTY = "io.netty.iouring.acceptMultiShotEnabled";
    /** Netty's switch for multishot POLLIN on io_uring; off here unless set. */
    static final String MULTISHOT_POLL_PROPERTY = "io.netty.iouring.pollAddMultishotEnabled";
    /** The system property that turns the data plane's read buffer ring on ({@code true}); off by default ({@link #readRing}). */
    public static final String READ_RING_PROPERTY = "outrigger.read_ring";
    /** The ring's buffer group; one ring per data-plane event loop. */
    static final short READ_RING_GROUP = 1;
    /** The ring's bytes per buffer: big enough that a streamed body is read in pieces as large as without a ring. */
    static final int READ_RING_BUFFER_BYTES = 16 * 1024;
    /**
     * Buffers the ring may grow to (it starts with {@value #READ_RING_BATCH} and grows by as many when the kernel finds
     * it empty). The room to grow matters, though a growth whose allocation fails is dangerous (see {@link ReadRingAllocator}):
     * a ring that started full (32 of 32) misread once the kernel found it empty, in a way not worked out (an upload to an
     * instance that reads nothing got no answer in 5 runs of {@code HttpProtectionTest} in 5, its log showing a request
     * refused for a bare line feed that no client sent).
     */
    static final short READ_RING_BUFFERS = 128;
    static final int READ_RING_BATCH = 32;
    /** Under this direct memory limit a ring grows to half as many buffers: what a refused growth takes from the JDK is less. */
    private static final long SMALL_DIRECT_MEMORY = 64L << 20;
    /** One WARN per process for a {@value #PROPERTY} that names no transport (the sidecar asks more than once). */
    private static final AtomicBoolean UNKNOWN_WARNED = new AtomicBoolean();

    static {
        // Before Netty's IoUring class reads them: this enum is what first touches io_uring.
        if (System.getProperty(MULTISHOT_ACCEPT_PROPERTY) == null) {
            System.setProperty(MULTISHOT_ACCEPT_PROPERTY, "false");
        }
        if (System.getProperty(MULTISHOT_POLL_PROPERTY) == null) {
            System.setProperty(MULTISHOT_POLL_PROPERTY, "false");
        }
    }

    /** The best transport on this machine that {@value #PROPERTY} allows. */
    public static Transports best() {
        return best(System.getProperty(PROPERTY, ""));
    }

    /**
     * The best transport that {@code property} ({@value #PROPERTY}'s value) allows. A value that names no
     * transport (a typo such as {@code iouring}) is taken as unset, with one WARN line: it used to pick NIO,
     * the slowest, without a word.
     */
    static Transports best(String property) {
        String wanted = property.trim().toLowerCase(Locale.ROOT);
        if (!wanted.isEmpty() && !Set.of("auto", "io_uring", "epoll", "nio").contains(wanted)) {
            if (UNKNOWN_WARNED.compareAndSet(false, true)) {
                LoggerFactory.getLogger(Transports.class).warn("-D{}={}: no such transport (expected: auto, io_uring, epoll or nio);"
                        + " picking the best this machine offers", PROPERTY, property);
            }
            wanted = "";
        }
        boolean any = wanted.isEmpty() || "auto".equals(wanted);
        if ((any || "io_uring".equals(wanted)) && ioUringAvailable()) {
            return IO_URING;
        }
        if ((any || "io_uring".equals(wanted) || "epoll".equals(wanted)) && Epoll.isAvailable()) {
            return EPOLL;
        }
        return NIO;
    }

    /** Whether this transport can run on this machine (its native library loads and the kernel allows it). */
    public boolean isAvailable() {
        return switch (this) {
            case IO_URING -> ioUringAvailable();
            case EPOLL -> Epoll.isAvailable();
            case NIO -> true;
        };
    }

    private static boolean ioUringAvailable() {
        try {
            return IoUring.isAvailable();
        } catch (LinkageError e) { // no native library for this platform in the jar
            return false;
        }
    }

    /**
     * The transport for the DNS resolver's datagram channels: this one, except io_uring, whose
     * datagram channel leaks its read buffer when closed with a read outstanding (Netty 4.2.18);
     * lookups are rare and cached, so they run on epoll (or NIO) on a loop of their own.
     */
    public Transports dnsTransport() {
        if (this != IO_URING) {
            return this;
        }
        return Epoll.isAvailable() ? EPOLL : NIO;
    }

    /**
     * A new event loop group; {@code threads} 0 means Netty's default (2 x cores). Its loops give
     * up the CPU after a busy turn (see {@link YieldingIoHandler}) and survive a turn that ran out
     * of memory (see {@link OutOfMemoryGuardIoHandler}).
     */
    public EventLoopGroup newGroup(int threads, String name) {
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name, true), YieldingIoHandler.wrap(OutOfMemoryGuardIoHandler.wrap(ioHandlerFactory(false))));
    }

    /**
     * A new event loop group for the listeners and their upstream connections: {@link #newGroup}'s, whose
     * io_uring loops also hold a read buffer ring when {@link #readRing()} says so. Connections use it when
     * their bootstrap went through {@link #readFromRing(ServerBootstrap, EventLoopGroup)} or
     * {@link #readFromRing(Bootstrap, EventLoopGroup)}.
     */
    public EventLoopGroup newDataPlaneGroup(int threads, String name) {
        if (!readRing()) {
            return newGroup(threads, name);
        }
        return new ReadRingGroup(threads, new DefaultThreadFactory(name, true), YieldingIoHandler.wrap(OutOfMemoryGuardIoHandler.wrap(ioHandlerFactory(true))));
    }

    /**
     * Whether this transport's data-plane loops read into a buffer ring: only when {@value #READ_RING_PROPERTY} is
     * {@code true}, on io_uring with a kernel that consumes ring buffers incrementally ({@link #readRingSupported}).
     *
     * <p>Off by default: with the ring, uploads to instances that read none of them are not held back. Netty 4.2.18
     * arms the next receive whenever the kernel finds the ring empty, whether or not the connection asked for a
     * read, so a client's bytes keep coming while its instance takes nothing: 16 such uploads of 100 MB at once grew
     * a sidecar to 2.8 GB resident and none got its 504 (with 32 buffers, one upload was enough;
     * {@code HttpProtectionTest.manyUploadsToAnInstanceThatReadsNoneAllTimeOut}). The ring saved about 7% of the event
     * loop's CPU per request in the benchmark.
     */
    public boolean readRing() {
        return readRingSupported() && "true".equalsIgnoreCase(System.getProperty(READ_RING_PROPERTY, "").trim());
    }

    /** Whether this transport could read into a buffer ring: io_uring on a kernel that consumes ring buffers incrementally (6.12+). */
    public boolean readRingSupported() {
        return this == IO_URING && IoUring.isRegisterBufferRingSupported() && IoUring.isRegisterBufferRingIncSupported();
    }

    /** Makes the connections {@code b} accepts on {@code group} read from its loops' buffer ring, if they have one. */
    public static void readFromRing(ServerBootstrap b, EventLoopGroup group) {
        if (group instanceof ReadRingGroup) {
            b.childOption(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID, READ_RING_GROUP);
        }
    }

    /**
     * Makes the connections {@code b} opens on {@code loop} (a loop or its group) read from the loop's buffer ring, if it has one;
     * true when it does.
     */
    public static boolean readFromRing(Bootstrap b, EventLoopGroup loop) {
        EventLoopGroup group = loop instanceof EventLoop ? ((EventLoop) loop).parent() : loop;
        if (group instanceof ReadRingGroup) {
            b.option(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID, READ_RING_GROUP);
            return true;
        }
        return false;
    }

    /** A group whose every loop holds the read buffer ring ({@link #READ_RING_GROUP}): what {@link #readFromRing} looks for. */
    private static final class ReadRingGroup extends MultiThreadIoEventLoopGroup {
        ReadRingGroup(int threads, ThreadFactory threadFactory, IoHandlerFactory factory) {
            super(threads, threadFactory, factory);
        }
    }

    private IoHandlerFactory ioHandlerFactory(boolean readRing) {
        return switch (this) {
            // Netty 4.2.18 loses a POLLOUT that comes as a hang-up once the peer half-closed
            case IO_URING -> IoUringPollOutIoHandler.wrap(readRing
                    ? readRingFactory(new ReadRingAllocator(
                            new IoUringFixedBufferRingAllocator(ByteBufAllocator.DEFAULT, READ_RING_BUFFER_BYTES), READ_RING_BUFFER_BYTES))
                    : IoUringIoHandler.newFactory());
            case EPOLL -> EpollReAddingIoHandler.wrap(EpollIoHandler.newFactory()); // Netty 4.2.18's epoll_ctl MOD after DEL
            case NIO -> NioIoHandler.newFactory();
        };
    }

    /**
     * io_uring handlers whose loops each hold the read ring, its buffers from {@code allocator} (in the sidecar the
     * default allocator's, as every other read buffer's, with the JDK's memory for what it refuses:
     * {@link ReadRingAllocator}). The ring is incremental, so a small read takes only its own bytes of a buffer and the
     * next read goes on in the same one.
     */
    static IoHandlerFactory readRingFactory(IoUringBufferRingAllocator allocator) {
        return IoUringIoHandler.newFactory(new IoUringIoHandlerConfig().setBufferRingConfig(IoUringBufferRingConfig.builder()
                .bufferGroupId(READ_RING_GROUP)
                .bufferRingSize(PlatformDependent.maxDirectMemory() < SMALL_DIRECT_MEMORY ? (short) (READ_RING_BUFFERS / 2) : READ_RING_BUFFERS)
                .batchSize(READ_RING_BATCH)
                .incremental(true)
                .allocator(allocator)
                .build()));
    }

    public Class<? extends ServerSocketChannel> serverChannel() {
        return switch (this) {
            case IO_URING -> IoUringServerSocketChannel.class;
            case EPOLL -> EpollServerSocketChannel.class;
            case NIO -> NioServerSocketChannel.class;
        };
    }

    public Class<? extends SocketChannel> clientChannel() {
        return switch (this) {
            case IO_URING -> IoUringSocketChannel.class;
            case EPOLL -> EpollSocketChannel.class;
            case NIO -> NioSocketChannel.class;
        };
    }

    /** The datagram channel of this transport; io_uring has none here (see {@link #dnsTransport()}). */
    public Class<? extends DatagramChannel> datagramChannel() {
        return switch (this) {
            case IO_URING -> throw new IllegalStateException("DNS runs on " + dnsTransport() + ", not io_uring");
            case EPOLL -> EpollDatagramChannel.class;
            case NIO -> NioDatagramChannel.class;
        };
    }
}

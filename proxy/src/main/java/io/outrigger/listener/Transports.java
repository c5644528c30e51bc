package io.outrigger.listener;

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
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;

import org.slf4j.LoggerFactory;

import java.util.Locale;
import java.util.Set;
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
 */
public enum Transports {
    IO_URING, EPOLL, NIO;

    /** The system property that picks a transport. */
    public static final String PROPERTY = "outrigger.transport";
    /** Netty's switch for multishot accept on io_uring; off here unless set. */
    static final String MULTISHOT_ACCEPT_PROPERTY = "io.netty.iouring.acceptMultiShotEnabled";
    /** Netty's switch for multishot POLLIN on io_uring; off here unless set. */
    static final String MULTISHOT_POLL_PROPERTY = "io.netty.iouring.pollAddMultishotEnabled";
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
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name, true), YieldingIoHandler.wrap(OutOfMemoryGuardIoHandler.wrap(ioHandlerFactory())));
    }

    private IoHandlerFactory ioHandlerFactory() {
        return switch (this) {
            case IO_URING -> IoUringIoHandler.newFactory();
            case EPOLL -> EpollIoHandler.newFactory();
            case NIO -> NioIoHandler.newFactory();
        };
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

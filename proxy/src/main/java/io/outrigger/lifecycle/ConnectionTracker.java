package io.outrigger.lifecycle;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.MaxMessagesRecvByteBufAllocator;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.ChannelGroupFuture;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.outrigger.time.Ticker;
import io.outrigger.time.WarnLimiter;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Keeps every connection the sidecar's listeners accept, so draining can reach them and closing
 * the sidecar closes them for certain (an event loop group's shutdown alone was seen to leave
 * accepted sockets open).
 *
 * <pre>
 *   server channel: ConnectionTracker -> ServerBootstrapAcceptor   (ServerBootstrap.handler(tracker))
 * </pre>
 *
 * A closed connection leaves the group by itself. {@link #drain(Channel)} marks a listener as
 * draining and sends {@link DrainEvent} to its connections, including those it accepts later.
 * A failed accept (most often EMFILE: the process is out of file descriptors) pauses accepting
 * on that listener for {@value #ACCEPT_PAUSE_MILLIS} ms with one WARN line, as Netty's own acceptor
 * would, but without a stack trace per pause: connections already open keep being served, and
 * the pending ones are accepted once descriptors are free again.
 *
 * <p>It also holds the connection limit ({@code max_connections}), per listener: the connections
 * open on one listener that carries traffic (every one but a server channel with {@link #NOT_LIMITED},
 * the admin listener) never exceed it. At its limit a listener stops accepting, as HAProxy's frontends
 * do at their {@code maxconn}: new clients wait in the kernel's listen backlog, and are accepted as
 * soon as one of its connections closes (a limited listener accepts one connection per read, so the
 * pause takes effect at once). A connection accepted past the limit anyway is closed at once and
 * counted ({@link #rejected()}). So a flood of connections cannot take the descriptors the open ones
 * need for their upstream connections, and a flood on one listener (inbound, from the network) does
 * not hold up another (outbound, the local app's own calls), nor the admin listener.
 * Sharable and thread-safe: one per sidecar, on every server channel.
 */
@Sharable
public final class ConnectionTracker extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(ConnectionTracker.class);
    /** How long a listener stops accepting after a failed accept. */
    static final long ACCEPT_PAUSE_MILLIS = 1000;
    private static final AttributeKey<Boolean> CLOSED_BY_SIDECAR = AttributeKey.valueOf(ConnectionTracker.class, "closedBySidecar");
    /**
     * Set on a server channel ({@code ServerBootstrap.attr(NOT_LIMITED, true)}) whose connections have no limit
     * and which never stops accepting for one: the admin listener, so that probes and scrapes still get in
     * when the traffic listeners are full.
     */
    public static final AttributeKey<Boolean> NOT_LIMITED = AttributeKey.valueOf(ConnectionTracker.class, "notLimited");
    private static final AttributeKey<Listener> LISTENER = AttributeKey.valueOf(ConnectionTracker.class, "listener");

    private final ChannelGroup connections = new DefaultChannelGroup("outrigger-connections", GlobalEventExecutor.INSTANCE);
    private final Set<Channel> draining = ConcurrentHashMap.newKeySet();
    private final int maxConnections;
    private final Set<Listener> listeners = ConcurrentHashMap.newKeySet();

    /** A tracker without a connection limit. */
    public ConnectionTracker() {
        this(Integer.MAX_VALUE);
    }

    /** @param maxConnections the most connections open at once on each limited listener, at least 1 */
    public ConnectionTracker(int maxConnections) {
        if (maxConnections < 1) {
            throw new IllegalArgumentException("maxConnections must be at least 1: " + maxConnections);
        }
        this.maxConnections = maxConnections;
    }

    /**
     * One listener's count and why it is not accepting, if it is not: at its limit, or for a while after a failed
     * accept. Its server channel reads (accepts) only when neither holds.
     */
    private final class Listener implements ListenerCounts {
        final Channel server;
        final boolean limited;
        final int max;
        final AtomicInteger open = new AtomicInteger();
        final AtomicLong limitReachedHere = new AtomicLong();
        final AtomicLong rejectedHere = new AtomicLong();
        volatile String name;
        volatile boolean named;
        /** Its own: a listener at its limit is never left unreported because another one reached its own just before. */
        private final WarnLimiter fullWarnings = new WarnLimiter(Ticker.system());
        private boolean full; // guarded by this
        private boolean pausedAfterFailure; // guarded by this

        Listener(Channel server, boolean limited) {
            this.server = server;
            this.limited = limited;
            this.max = limited ? maxConnections : Integer.MAX_VALUE;
            this.name = String.valueOf(server.localAddress());
        }

        /**
         * Counts {@code child} in; false when that takes the listener past its limit: then {@code child} is closed,
         * before the acceptor registers it, so it is never read from and no request of a client that sees its
         * connection closed is proxied.
         */
        boolean admit(Channel child) {
            if (open.incrementAndGet() > max) {
                open.decrementAndGet();
                rejectedHere.incrementAndGet();
                markClosedBySidecar(child);
                child.unsafe().closeForcibly(); // not registered: closed here, as the acceptor closes one it cannot register
                reconsider();
                return false;
            }
            return true;
        }

        /** Counts {@code child}, admitted and handed to the acceptor, out when it closes; pauses the listener at its limit. */
        void countOutOnClose(Channel child) {
            child.closeFuture().addListener(f -> {
                // The close that takes the count below the limit always reconsiders, under the lock: a pause may be
                // under way on the listener's loop that read the count before this decrement.
                int left = open.decrementAndGet();
                if (left == max - 1) {
                    reconsider();
                }
                if (left == 0 && !server.isOpen()) {
                    listeners.remove(this); // a listener stopped by a drain: its last connection is gone
                }
            });
            if (open.get() >= max) {
                reconsider();
            }
        }

        /** Pauses or resumes the listener to match its count now; any thread. */
        synchronized void reconsider() {
            int now = open.get();
            boolean atLimit = now >= max;
            if (atLimit == full) {
                return;
            }
            full = atLimit;
            applyAutoRead();
            if (atLimit) {
                limitReachedHere.incrementAndGet();
                int unreported = fullWarnings.admit();
                if (unreported >= 0) {
                    log.warn("listener {}: {} connections open, its limit (max_connections): it stops accepting until one closes{}",
                            name, now, unreported == 0 ? "" : " (it reached it " + unreported + " more times since the last warning)");
                } else {
                    log.debug("listener {}: {} connections open, its limit (max_connections): it stops accepting", name, now);
                }
            } else {
                log.debug("listener {}: {} connections open, below its limit (max_connections): it accepts again", name, now);
            }
        }

        /** Stops accepting after a failed accept; false when the listener already paused for one. */
        synchronized boolean pauseAfterFailure() {
            if (pausedAfterFailure) {
                return false;
            }
            pausedAfterFailure = true;
            applyAutoRead();
            return true;
        }

        synchronized void endPauseAfterFailure() {
            pausedAfterFailure = false;
            applyAutoRead();
        }

        /**
         * Has the listener accept or not, as its state says when this runs on its event loop. From another thread
         * NIO and io_uring stop accepting in a task of their own, which could run after a resume made on the loop
         * meanwhile and leave the listener not accepting for good; and a resume from another thread starts an
         * accept that a pause made on the loop meanwhile does not take back.
         */
        private void applyAutoRead() {
            EventLoop loop = server.eventLoop();
            if (loop.inEventLoop()) {
                applyNow();
            } else {
                try {
                    loop.execute(this::applyNow);
                } catch (RejectedExecutionException shutDown) {
                    // the listener's loop is gone, and the listener with it
                }
            }
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public int open() {
            return open.get();
        }

        @Override
        public long limitReached() {
            return limitReachedHere.get();
        }

        @Override
        public long rejected() {
            return rejectedHere.get();
        }

        private synchronized void applyNow() {
            if (server.isOpen()) {
                server.config().setAutoRead(!full && !pausedAfterFailure);
            }
        }
    }

    /**
     * Starts counting the listener's connections. A limited listener accepts one connection per read, so that a
     * pause at its limit takes effect before the next accept: in a read of several, those past the limit would
     * be accepted only to be closed.
     */
    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        Channel server = ctx.channel();
        boolean limited = !Boolean.TRUE.equals(server.attr(NOT_LIMITED).get());
        Listener listener = new Listener(server, limited);
        server.attr(LISTENER).set(listener);
        listeners.add(listener);
        server.closeFuture().addListener(f -> { // a drain stops a listener while its connections go on: counted until the last closes
            if (listener.open.get() == 0) {
                listeners.remove(listener);
            }
        });
        if (limited && maxConnections != Integer.MAX_VALUE
                && server.config().getRecvByteBufAllocator() instanceof MaxMessagesRecvByteBufAllocator perRead) {
            perRead.maxMessagesPerRead(1);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof Channel child)) {
            ctx.fireChannelRead(msg);
            return;
        }
        Channel server = ctx.channel();
        Listener listener = server.attr(LISTENER).get();
        if (!listener.admit(child)) {
            return;
        }
        // The acceptor registers the child first, so an event sent to it from now on queues behind its registration.
        ctx.fireChannelRead(child);
        connections.add(child);
        listener.countOutOnClose(child);
        if (draining.contains(server)) {
            DrainEvent.deliver(child);
        }
    }

    /** Names {@code serverChannel}'s listener (outbound, tcp:svc, ...) in log lines and series; any thread. */
    public void name(Channel serverChannel, String listener) {
        Listener l = serverChannel.attr(LISTENER).get();
        if (l != null) {
            l.name = listener;
            l.named = true;
        }
    }

    /** One listener's counts, read when asked (for the metrics). */
    public interface ListenerCounts {
        /** The listener's name (outbound, tcp:svc, ...). */
        String name();

        /** Its connections open now. */
        int open();

        /** Times it reached its limit and stopped accepting, so far. */
        long limitReached();

        /** Its connections accepted past the limit and closed at once, so far. */
        long rejected();
    }

    /** The listeners named so far ({@link #name}) that carry traffic, each read live. */
    public List<ListenerCounts> limitedListeners() {
        List<ListenerCounts> named = new ArrayList<>();
        for (Listener l : listeners) {
            if (l.named && l.limited) {
                named.add(l);
            }
        }
        return named;
    }

    /** Descriptors kept out of the derived limit: the sidecar's own files, sockets and listeners, registry and health checks. */
    static final long RESERVED_DESCRIPTORS = 256;

    /**
     * The limit {@code max_connections: 0} stands for: half the descriptors the process may open (each
     * connection proxied needs one for its upstream side too), less {@value #RESERVED_DESCRIPTORS} kept for
     * the sidecar's own, shared evenly by the listeners that carry traffic; no limit when the open-files
     * limit is unknown. HAProxy derives its default {@code maxconn} the same way. On Linux the JVM raises
     * its open-files limit to the hard limit at start, so that is the one that counts.
     *
     * @param openFilesLimit the process's open-files limit, 0 or less when unknown
     * @param listeners      the listeners that carry traffic (outbound, inbound, each tcp, jsonline)
     */
    public static int fromOpenFilesLimit(long openFilesLimit, int listeners) {
        if (openFilesLimit <= 0) {
            return Integer.MAX_VALUE;
        }
        return (int) Math.min(Integer.MAX_VALUE, Math.max(1, (openFilesLimit - RESERVED_DESCRIPTORS) / 2 / Math.max(1, listeners)));
    }

    /** This process's open-files limit, or 0 when the platform does not say. */
    public static long openFilesLimit() {
        return java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                instanceof com.sun.management.UnixOperatingSystemMXBean unix ? unix.getMaxFileDescriptorCount() : 0;
    }

    /** The most connections open at once on each listener that carries traffic ({@code max_connections}). */
    public int maxConnections() {
        return maxConnections;
    }

    /** Connections open now on the listeners that carry traffic (the admin listener's are not counted). */
    public int openConnections() {
        int n = 0;
        for (Listener l : listeners) {
            if (l.limited) {
                n += l.open.get();
            }
        }
        return n;
    }

    /**
     * The connections open now on each listener, by its name ({@link #name}), the admin listener's included; a listener
     * closed (by a drain) while connections of its are still open is counted until the last of them closes.
     */
    public Map<String, Integer> openByListener() {
        Map<String, Integer> open = new TreeMap<>();
        for (Listener l : listeners) {
            open.merge(l.name, l.open.get(), Integer::sum);
        }
        return open;
    }

    /** Connections accepted past the limit and closed at once, so far, by the listeners that are open (or still have connections). */
    public long rejected() {
        long n = 0;
        for (Listener l : listeners) {
            n += l.rejected();
        }
        return n;
    }

    /** Times a listener reached its limit and stopped accepting, so far, summed over the listeners that are open (or still have connections). */
    public long limitReached() {
        long n = 0;
        for (Listener l : listeners) {
            n += l.limitReached();
        }
        return n;
    }

    /**
     * An accept failed: stops accepting for {@value #ACCEPT_PAUSE_MILLIS} ms and warns once for the
     * pause. Not passed on: the acceptor would pause as well and the pipeline's tail would log the
     * stack trace of every failure.
     */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Channel server = ctx.channel();
        Listener listener = server.attr(LISTENER).get();
        if (!listener.pauseAfterFailure()) {
            return; // already paused
        }
        server.eventLoop().schedule(listener::endPauseAfterFailure, ACCEPT_PAUSE_MILLIS, TimeUnit.MILLISECONDS);
        String message = String.valueOf(cause.getMessage());
        String hint = message.contains("Too many open files") ? " (the open-files limit, ulimit -n, is reached)" : "";
        log.warn("listener {} ({}): cannot accept a connection: {}{}; not accepting for {} ms, open connections go on",
                listener.name, server.localAddress(), message, hint, ACCEPT_PAUSE_MILLIS);
    }

    /**
     * Sends {@link DrainEvent} to every open connection accepted by {@code serverChannel}, and to any
     * it accepts from now on; any thread, never blocks. A connection may get the event twice.
     */
    public void drain(Channel serverChannel) {
        draining.add(serverChannel);
        for (Channel ch : connections) {
            if (ch.parent() == serverChannel) {
                DrainEvent.deliver(ch);
            }
        }
    }

    /** The number of open accepted connections of {@code serverChannel}. */
    public int count(Channel serverChannel) {
        Listener l = serverChannel.attr(LISTENER).get();
        return l == null ? 0 : l.open();
    }

    /**
     * Closes every tracked connection, each marked first as closed by the sidecar ({@link #closedBySidecar}):
     * what it had in flight was cut by the shutdown, not dropped by its client. The future completes when all are closed.
     */
    public ChannelGroupFuture closeAll() {
        for (Channel ch : connections) {
            markClosedBySidecar(ch);
        }
        return connections.close();
    }

    /**
     * Marks {@code ch}, about to be closed by the sidecar for a reason of its own (its shutdown, or no
     * memory left for the connection's buffers): what it has in flight is not a client that left. Any thread.
     */
    public static void markClosedBySidecar(Channel ch) {
        ch.attr(CLOSED_BY_SIDECAR).set(Boolean.TRUE);
    }

    /** Whether {@code ch} was closed by the sidecar ({@link #closeAll()}, {@link #markClosedBySidecar}); any thread. */
    public static boolean closedBySidecar(Channel ch) {
        return Boolean.TRUE.equals(ch.attr(CLOSED_BY_SIDECAR).get());
    }
}

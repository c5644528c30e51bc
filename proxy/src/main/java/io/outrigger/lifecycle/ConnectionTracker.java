package io.outrigger.lifecycle;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
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

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
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
 * <p>It also holds the connection limit ({@code max_connections}): the connections open on the
 * listeners that carry traffic (every one but a server channel with {@link #NOT_LIMITED}, the admin
 * listener) never exceed it. At the limit those listeners stop accepting, as HAProxy does at
 * {@code maxconn}: new clients wait in the kernel's listen backlog, and are accepted as soon as a
 * connection closes (a limited listener accepts one connection per read, so the pause takes effect at
 * once). A connection accepted past the limit anyway is closed at once and counted ({@link #rejected()}). So a flood of connections cannot take the
 * descriptors the open ones need for their upstream connections, nor the admin listener's.
 * Sharable and thread-safe: one per sidecar, on every server channel.
 */
@Sharable
public final class ConnectionTracker extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(ConnectionTracker.class);
    /** How long a listener stops accepting after a failed accept. */
    static final long ACCEPT_PAUSE_MILLIS = 1000;
    private static final AttributeKey<Boolean> CLOSED_BY_SIDECAR = AttributeKey.valueOf(ConnectionTracker.class, "closedBySidecar");
    /**
     * Set on a server channel ({@code ServerBootstrap.attr(NOT_LIMITED, true)}) whose connections do not count
     * toward the limit and which never stops accepting for it: the admin listener, so that probes and scrapes
     * still get in when the traffic listeners are full.
     */
    public static final AttributeKey<Boolean> NOT_LIMITED = AttributeKey.valueOf(ConnectionTracker.class, "notLimited");

    private final ChannelGroup connections = new DefaultChannelGroup("outrigger-connections", GlobalEventExecutor.INSTANCE);
    private final Set<Channel> draining = ConcurrentHashMap.newKeySet();
    private final int maxConnections;
    /** Open connections of the limited listeners. */
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicLong rejected = new AtomicLong();
    private final AtomicLong limitReached = new AtomicLong();
    /** The limited listeners seen so far: those to pause and resume. */
    private final Set<Channel> limitedServers = ConcurrentHashMap.newKeySet();
    /** Listeners not accepting for a while after a failed accept. */
    private final Set<Channel> pausedAfterFailure = ConcurrentHashMap.newKeySet();
    private final WarnLimiter fullWarnings = new WarnLimiter(Ticker.system());
    /** Whether the limited listeners are paused for the limit; changed only under {@code this}. */
    private volatile boolean full;

    /** A tracker without a connection limit. */
    public ConnectionTracker() {
        this(Integer.MAX_VALUE);
    }

    /** @param maxConnections the most connections open at once on the limited listeners, at least 1 */
    public ConnectionTracker(int maxConnections) {
        if (maxConnections < 1) {
            throw new IllegalArgumentException("maxConnections must be at least 1: " + maxConnections);
        }
        this.maxConnections = maxConnections;
    }

    /**
     * A limited listener accepts one connection per read, so that a pause at the limit takes effect before the
     * next accept: in a read of several, those past the limit would be accepted only to be closed.
     */
    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        Channel server = ctx.channel();
        if (maxConnections != Integer.MAX_VALUE && !Boolean.TRUE.equals(server.attr(NOT_LIMITED).get())
                && server.config().getRecvByteBufAllocator() instanceof MaxMessagesRecvByteBufAllocator perRead) {
            perRead.maxMessagesPerRead(1);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        // The acceptor registers the child first, so an event sent to it from now on queues behind its registration.
        ctx.fireChannelRead(msg);
        if (msg instanceof Channel child) {
            connections.add(child);
            Channel server = ctx.channel();
            if (!Boolean.TRUE.equals(server.attr(NOT_LIMITED).get()) && !admit(server, child)) {
                return;
            }
            if (draining.contains(server)) {
                DrainEvent.deliver(child);
            }
        }
    }

    /** Counts {@code child} toward the limit, or closes it when the limit is reached; pauses the listeners at the limit. */
    private boolean admit(Channel server, Channel child) {
        if (limitedServers.add(server)) {
            pauseIfFull(server); // a listener first seen when the others are paused already
        }
        int now = open.incrementAndGet();
        if (now > maxConnections) {
            open.decrementAndGet();
            rejected.incrementAndGet();
            markClosedBySidecar(child);
            child.close();
            reconsider();
            return false;
        }
        child.closeFuture().addListener(f -> {
            open.decrementAndGet();
            if (full) {
                reconsider();
            }
        });
        if (now == maxConnections) {
            reconsider();
        }
        return true;
    }

    private synchronized void pauseIfFull(Channel server) {
        if (full && !pausedAfterFailure.contains(server)) {
            server.config().setAutoRead(false);
        }
    }

    /** Pauses or resumes the limited listeners to match the count now; any thread. */
    private synchronized void reconsider() {
        int now = open.get();
        boolean shouldPause = now >= maxConnections;
        if (shouldPause == full) {
            return;
        }
        full = shouldPause;
        for (Channel server : limitedServers) {
            if (server.isOpen() && !pausedAfterFailure.contains(server)) {
                server.config().setAutoRead(!shouldPause);
            }
        }
        if (shouldPause) {
            limitReached.incrementAndGet();
            int unreported = fullWarnings.admit();
            if (unreported >= 0) {
                log.warn("{} connections open, the limit (max_connections): the listeners stop accepting until one closes{}",
                        now, unreported == 0 ? "" : " (reached " + (unreported + 1) + " times since the last warning)");
            } else {
                log.debug("{} connections open, the limit (max_connections): the listeners stop accepting", now);
            }
        } else {
            log.debug("{} connections open, below the limit (max_connections): the listeners accept again", now);
        }
    }

    /** Descriptors kept out of the derived limit: the sidecar's own files, sockets and listeners, registry and health checks. */
    static final long RESERVED_DESCRIPTORS = 256;

    /**
     * The limit {@code max_connections: 0} stands for: half the descriptors the process may open (each
     * connection proxied needs one for its upstream side too), less {@value #RESERVED_DESCRIPTORS} kept for
     * the sidecar's own; no limit when the open-files limit is unknown. HAProxy derives its default
     * {@code maxconn} the same way. On Linux the JVM raises its open-files limit to the hard limit at start,
     * so that is the one that counts.
     *
     * @param openFilesLimit the process's open-files limit, 0 or less when unknown
     */
    public static int fromOpenFilesLimit(long openFilesLimit) {
        if (openFilesLimit <= 0) {
            return Integer.MAX_VALUE;
        }
        return (int) Math.min(Integer.MAX_VALUE, Math.max(1, (openFilesLimit - RESERVED_DESCRIPTORS) / 2));
    }

    /** This process's open-files limit, or 0 when the platform does not say. */
    public static long openFilesLimit() {
        return java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                instanceof com.sun.management.UnixOperatingSystemMXBean unix ? unix.getMaxFileDescriptorCount() : 0;
    }

    /** The most connections open at once on the listeners that carry traffic ({@code max_connections}). */
    public int maxConnections() {
        return maxConnections;
    }

    /** Connections open now on the listeners that carry traffic (the admin listener's are not counted). */
    public int openConnections() {
        return open.get();
    }

    /** Connections accepted past the limit and closed at once, so far. */
    public long rejected() {
        return rejected.get();
    }

    /** Times the limit was reached and the listeners stopped accepting, so far. */
    public long limitReached() {
        return limitReached.get();
    }

    /**
     * An accept failed: stops accepting for {@value #ACCEPT_PAUSE_MILLIS} ms and warns once for the
     * pause. Not passed on: the acceptor would pause as well and the pipeline's tail would log the
     * stack trace of every failure.
     */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Channel server = ctx.channel();
        if (!pausedAfterFailure.add(server)) {
            return; // already paused
        }
        server.config().setAutoRead(false);
        server.eventLoop().schedule(() -> {
            synchronized (this) { // against reconsider(): a listener paused for the limit stays paused
                pausedAfterFailure.remove(server);
                if (server.isOpen() && !(full && limitedServers.contains(server))) {
                    server.config().setAutoRead(true);
                }
            }
        }, ACCEPT_PAUSE_MILLIS, TimeUnit.MILLISECONDS);
        String message = String.valueOf(cause.getMessage());
        String hint = message.contains("Too many open files") ? " (the open-files limit, ulimit -n, is reached)" : "";
        log.warn("listener {}: cannot accept a connection: {}{}; not accepting for {} ms, open connections go on",
                server.localAddress(), message, hint, ACCEPT_PAUSE_MILLIS);
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
        int n = 0;
        for (Channel ch : connections) {
            if (ch.parent() == serverChannel) {
                n++;
            }
        }
        return n;
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

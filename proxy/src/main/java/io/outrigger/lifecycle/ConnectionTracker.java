package io.outrigger.lifecycle;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.ChannelGroupFuture;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.GlobalEventExecutor;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

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
 * Sharable and thread-safe: one per sidecar, on every server channel.
 */
@Sharable
public final class ConnectionTracker extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(ConnectionTracker.class);
    /** How long a listener stops accepting after a failed accept. */
    static final long ACCEPT_PAUSE_MILLIS = 1000;
    private static final AttributeKey<Boolean> CLOSED_BY_SIDECAR = AttributeKey.valueOf(ConnectionTracker.class, "closedBySidecar");

    private final ChannelGroup connections = new DefaultChannelGroup("outrigger-connections", GlobalEventExecutor.INSTANCE);
    private final Set<Channel> draining = ConcurrentHashMap.newKeySet();

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        // The acceptor registers the child first, so an event sent to it from now on queues behind its registration.
        ctx.fireChannelRead(msg);
        if (msg instanceof Channel child) {
            connections.add(child);
            if (draining.contains(ctx.channel())) {
                DrainEvent.deliver(child);
            }
        }
    }

    /**
     * An accept failed: stops accepting for {@value #ACCEPT_PAUSE_MILLIS} ms and warns once for the
     * pause. Not passed on: the acceptor would pause as well and the pipeline's tail would log the
     * stack trace of every failure.
     */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Channel server = ctx.channel();
        if (!server.config().isAutoRead()) {
            return; // already paused
        }
        server.config().setAutoRead(false);
        server.eventLoop().schedule(() -> {
            if (server.isOpen()) {
                server.config().setAutoRead(true);
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

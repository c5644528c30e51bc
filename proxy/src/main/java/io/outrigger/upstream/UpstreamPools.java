package io.outrigger.upstream;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.resolver.AddressResolverGroup;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.EventExecutor;
import io.outrigger.discovery.Endpoint;
import io.outrigger.listener.DnsResolvers;
import io.outrigger.listener.ReadBufferShortage;
import io.outrigger.listener.Transports;

import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Keep-alive HTTP/1.1 connections to upstream instances, one pool per event loop and endpoint.
 *
 * <p>A connection is opened on the event loop of the client connection that needs it and only
 * ever used from that loop, so the pools need no locks: the per-loop maps are built once and
 * only read afterwards, and each loop touches only its own {@link LoopPool}. Connections start
 * with {@code AUTO_READ} off; the leasing exchange asks for every read. Idle connections are
 * kept last-in first-out (the warm ones are reused, the cold ones idle out), at most
 * {@code maxIdle} per endpoint and loop (default 256, {@code http.pool_max_idle}: above the requests in
 * flight, or connections churn), and are
 * closed after {@code idleTimeoutMillis} (default 60000, {@code http.idle_timeout_ms}). New
 * connections time out after {@code connectMillis} (default 1000, {@code resilience.timeouts.connect_ms}).
 *
 * <p>Told which endpoints the registry lists ({@link #retainOnly}), the pools close their connections to
 * any other: an instance that left keeps no connection open until it would idle out.
 *
 * <p>Thread-safety: {@link #pollIdle} and {@link #connect} must be called on {@code loop},
 * {@link #release} on the connection's own loop; {@link #retainOnly} on any thread.
 */
public final class UpstreamPools {
    private static final AttributeKey<Endpoint> ENDPOINT = AttributeKey.valueOf(UpstreamPools.class, "endpoint");

    private final Map<EventExecutor, LoopPool> pools = new IdentityHashMap<>();
    private final int maxIdle;
    /** The endpoints connections may be kept for ({@link #retainOnly}); null: any endpoint. */
    private volatile Set<Endpoint> listed;

    public UpstreamPools(EventLoopGroup group, Transports transport, int maxIdle, long idleTimeoutMillis,
                         long connectMillis, int maxResponseHeaderBytes) {
        this.maxIdle = maxIdle;
        AddressResolverGroup<InetSocketAddress> resolver = DnsResolvers.forTransport(transport);
        for (EventExecutor executor : group) {
            EventLoop loop = (EventLoop) executor;
            Bootstrap b = new Bootstrap().group(loop).channel(transport.clientChannel()).resolver(resolver)
                    .option(ChannelOption.AUTO_READ, false)
                    // A failed write shuts the output only: an answer the instance sent before it reset
                    // (an early 413 to an upload) is still read and relayed (see UpstreamHandler).
                    .option(ChannelOption.AUTO_CLOSE, false)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, connectMillis));
            boolean ring = Transports.readFromRing(b, loop);
            b.handler(new ChannelInitializer<Channel>() {
                @Override
                protected void initChannel(Channel ch) {
                    ReadBufferShortage.installOn(ch);
                    UpstreamCodec codec = new UpstreamCodec(UpstreamCodec.decoderConfig(maxResponseHeaderBytes));
                    ch.pipeline().addLast("codec", codec)
                            .addLast("idle", new IdleStateHandler(idleTimeoutMillis, 0, 0, TimeUnit.MILLISECONDS))
                            .addLast("upstream", new UpstreamHandler(codec, ring));
                }
            });
            pools.put(loop, new LoopPool(b));
        }
    }

    /** An idle, open connection to {@code endpoint} on {@code loop}, or null when there is none. */
    public Channel pollIdle(EventLoop loop, Endpoint endpoint) {
        ArrayDeque<Channel> idle = pool(loop).idle.get(endpoint);
        if (idle == null) {
            return null;
        }
        Channel ch;
        while ((ch = idle.pollFirst()) != null) {
            if (open(ch)) {
                return ch;
            }
        }
        return null;
    }

    /** Opens a new connection to {@code endpoint} on {@code loop}. */
    public ChannelFuture connect(EventLoop loop, Endpoint endpoint) {
        LoopPool pool = pool(loop);
        ChannelFuture f = pool.bootstrap.connect(DnsResolvers.address(endpoint.host(), endpoint.port()));
        Channel ch = f.channel();
        ch.attr(ENDPOINT).set(endpoint);
        ch.closeFuture().addListener(closed -> {
            ArrayDeque<Channel> idle = pool.idle.get(endpoint);
            if (idle != null) {
                idle.remove(ch);
                if (idle.isEmpty()) {
                    // Its last connection gone: an instance that left the registry must not stay in the map for good
                    // (instances that come and go on new addresses would grow it without bound). Made again on release.
                    pool.idle.remove(endpoint);
                }
            }
        });
        return f;
    }

    /**
     * Returns a connection whose last exchange completed cleanly (request and response fully
     * transferred, keep-alive) to its pool, or closes it when the pool is full or it is closed.
     */
    public void release(Channel ch) {
        UpstreamHandler handler = UpstreamHandler.of(ch);
        if (handler == null) {
            ch.close();
            return;
        }
        handler.unbind();
        handler.poolAfterRead(this, ch); // not mid-read: bytes after the response must be seen first
    }

    /** Puts a released connection into its pool, or closes it when it is closed already or the pool is full. */
    void pool(Channel ch, UpstreamCodec codec) {
        Endpoint endpoint = ch.attr(ENDPOINT).get();
        Set<Endpoint> keep = listed;
        if (endpoint == null || !open(ch) || ch instanceof DuplexChannel && ((DuplexChannel) ch).isOutputShutdown()
                || keep != null && !keep.contains(endpoint)) {
            ch.close();
            return;
        }
        ArrayDeque<Channel> idle = pool(ch.eventLoop()).idle.computeIfAbsent(endpoint, e -> new ArrayDeque<>());
        if (idle.size() >= maxIdle) {
            ch.close();
            return;
        }
        if (codec.holdsBytes()) {
            ch.close(); // bytes after the response: the upstream is out of step with this connection
            return;
        }
        codec.idle(); // until the next request is written
        idle.addFirst(ch);
        ch.read(); // so a close by the upstream, or a stray byte, while idle is seen at once
    }

    /**
     * Whether {@code ch} is open and no close of it is under way: on io_uring a channel reads as active until its
     * close completes (after its outstanding read is cancelled), and one leased in that window would take a
     * request only to close under it, a 502 for a request that cannot be sent again.
     */
    private static boolean open(Channel ch) {
        UpstreamHandler handler = UpstreamHandler.of(ch);
        return ch.isActive() && (handler == null || !handler.closing());
    }

    /**
     * Keeps connections to the {@code listed} endpoints only: the idle ones to any other endpoint (an
     * instance that left the registry) are closed on every loop, and from now on a connection to one is
     * closed when its exchange releases it, rather than kept until it idles out
     * ({@code http.idle_timeout_ms}) holding a socket on both sides. Any thread.
     */
    public void retainOnly(Set<Endpoint> listed) {
        Set<Endpoint> keep = Set.copyOf(listed);
        this.listed = keep;
        for (Map.Entry<EventExecutor, LoopPool> e : pools.entrySet()) {
            LoopPool pool = e.getValue();
            try {
                e.getKey().execute(() -> pool.closeIdleExcept(keep));
            } catch (RejectedExecutionException shuttingDown) {
                // the loop is closing its channels anyway
            }
        }
    }

    /** The endpoints {@code loop}'s pool keeps an entry for (tests); call on {@code loop}. */
    int endpointCount(EventLoop loop) {
        return pool(loop).idle.size();
    }

    /** Idle connections kept for {@code endpoint} on {@code loop}; call on {@code loop}. */
    public int idleCount(EventLoop loop, Endpoint endpoint) {
        ArrayDeque<Channel> idle = pool(loop).idle.get(endpoint);
        return idle == null ? 0 : idle.size();
    }

    private LoopPool pool(EventLoop loop) {
        LoopPool p = pools.get(loop);
        if (p == null) {
            throw new IllegalArgumentException(loop + " (expected: an event loop of the pools' group)");
        }
        return p;
    }

    /** One event loop's connections. */
    private static final class LoopPool {
        final Bootstrap bootstrap;
        final Map<Endpoint, ArrayDeque<Channel>> idle = new HashMap<>();

        LoopPool(Bootstrap bootstrap) {
            this.bootstrap = bootstrap;
        }

        /** Closes the idle connections to endpoints not in {@code keep}; on the loop. */
        void closeIdleExcept(Set<Endpoint> keep) {
            List<ArrayDeque<Channel>> gone = new ArrayList<>();
            for (Iterator<Map.Entry<Endpoint, ArrayDeque<Channel>>> it = idle.entrySet().iterator(); it.hasNext(); ) {
                Map.Entry<Endpoint, ArrayDeque<Channel>> e = it.next();
                if (!keep.contains(e.getKey())) {
                    it.remove(); // first: a close's listener then finds no entry to change
                    gone.add(e.getValue());
                }
            }
            for (ArrayDeque<Channel> channels : gone) {
                for (Channel ch : channels) {
                    ch.close();
                }
            }
        }
    }
}

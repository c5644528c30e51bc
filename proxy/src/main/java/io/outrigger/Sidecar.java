package io.outrigger;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.ChannelGroupFuture;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.outrigger.admin.AdminListener;
import io.outrigger.config.SidecarConfig;
import io.outrigger.http.HttpListeners;
import io.outrigger.jsonline.JsonLineListener;
import io.outrigger.discovery.ActiveHealthChecker;
import io.outrigger.lifecycle.ConnectionTracker;
import io.outrigger.listener.ListenerBindException;
import io.outrigger.listener.Transports;
import io.outrigger.tcp.TcpListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.UnresolvedAddressException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One running sidecar: the event loops and every configured listener over one shared
 * {@link SidecarContext}. {@link #start()} binds the listeners; {@link #close()} closes them,
 * every connection they accepted, and shuts the event loops down. The steps of a graceful stop
 * ({@link #beginDrain()}, {@link #stopIntake()}, {@link #close()}) are timed by
 * {@link io.outrigger.lifecycle.Drain}. Thread-safe.
 */
public final class Sidecar implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Sidecar.class);

    /** Readiness as {@code GET /ready} reports it: only {@link #READY} answers 200. */
    public enum State {
        /** Listeners binding or discovery not answered yet. */
        STARTING,
        /** Every listener bound and the registry answered once. */
        READY,
        /** Shutting down: finishing in-flight work, no longer ready for new traffic. */
        DRAINING
    }

    private final SidecarContext context;
    private final Transports transport;
    private final EventLoopGroup group;
    private final Map<String, Channel> serverChannels = new LinkedHashMap<>();
    private final Map<String, Integer> boundPorts = new LinkedHashMap<>();
    private final AtomicReference<State> state = new AtomicReference<>(State.STARTING);
    private final ConnectionTracker connections;
    /** A derived connection limit below this is worth a warning: the open-files limit is far too low for a proxy. */
    private static final int SMALL_DERIVED_LIMIT = 64;
    private final AtomicBoolean closed = new AtomicBoolean();
    private boolean intakeStopped; // guarded by this
    private ActiveHealthChecker healthChecker;

    public Sidecar(SidecarContext context) {
        this(context, Transports.best(), context.config().ioThreads());
    }

    /** @param threads event loop threads; 0 means Netty's default */
    public Sidecar(SidecarContext context, Transports transport, int threads) {
        this.context = context;
        this.transport = transport;
        this.group = transport.newDataPlaneGroup(threads, "outrigger");
        SidecarConfig.Listeners l = context.config().listeners();
        int trafficListeners = (l.outbound() != null ? 1 : 0) + (l.inbound() != null ? 1 : 0) + (l.jsonline() != null ? 1 : 0)
                + l.tcp().size();
        int configured = context.config().maxConnections();
        int max = configured;
        if (configured == 0) {
            long openFiles = ConnectionTracker.openFilesLimit();
            max = ConnectionTracker.fromOpenFilesLimit(openFiles, trafficListeners);
            if (trafficListeners > 0 && max < SMALL_DERIVED_LIMIT) {
                log.warn("the open-files limit ({}) leaves {} connections per listener (max_connections: 0 derives it); "
                        + "raise ulimit -n or set max_connections", openFiles, max);
            } else if (trafficListeners > 0) {
                log.info("max_connections: {} per listener, from the open-files limit ({})",
                        max == Integer.MAX_VALUE ? "no limit" : max, openFiles > 0 ? openFiles : "unknown");
            }
        }
        this.connections = new ConnectionTracker(max);
        context.metrics().bindConnections(connections);
    }

    public SidecarContext context() {
        return context;
    }

    public Transports transport() {
        return transport;
    }

    public EventLoopGroup group() {
        return group;
    }

    /** The event loop threads in force: {@code io_threads}, or the number Netty's default chose for 0. */
    public int ioThreads() {
        int n = 0;
        for (io.netty.util.concurrent.EventExecutor ignored : group) {
            n++;
        }
        return n;
    }

    /**
     * The handler every listener puts on its server channel ({@code ServerBootstrap.handler(...)}):
     * it keeps the accepted connections so draining and {@link #close()} reach each of them.
     */
    public ConnectionTracker connections() {
        return connections;
    }

    /**
     * Binds every configured listener; throws when one cannot be bound (the others are closed), a
     * {@link ListenerBindException} when the system refuses the port.
     * The state turns {@link State#READY} once the registry has answered once as well.
     */
    public void start() throws Exception {
        SidecarConfig.Listeners l = context.config().listeners();
        if (l.admin() == null && l.outbound() == null && l.inbound() == null && l.tcp().isEmpty() && l.jsonline() == null) {
            // Valid (every listener is optional) but almost surely a mistake, such as a forgotten --config.
            log.warn("no listeners configured: this sidecar will carry no traffic (see listeners in config/sidecar.yaml)");
        }
        try {
            startHealthChecks();
            // Each listener kind binds here, in the order of the config's listeners section.
            if (l.admin() != null) {
                bind("admin", "listeners.admin.port", l.admin().port(), () -> AdminListener.bind(this, l.admin().port()));
            }
            if (l.outbound() != null) {
                bind("outbound", "listeners.outbound.port", l.outbound().port(),
                        () -> HttpListeners.bindOutbound(this, l.outbound().port()));
            }
            if (l.inbound() != null) {
                bind("inbound", "listeners.inbound.port", l.inbound().port(),
                        () -> HttpListeners.bindInbound(this, l.inbound().port(), l.inbound().app()));
            }
            for (int i = 0; i < l.tcp().size(); i++) {
                SidecarConfig.Tcp tcp = l.tcp().get(i);
                bind(TcpListener.listenerName(tcp), "listeners.tcp[" + i + "].port", tcp.port(), () -> TcpListener.bind(this, tcp));
            }
            if (l.jsonline() != null) {
                bind("jsonline", "listeners.jsonline.port", l.jsonline().port(), () -> JsonLineListener.bind(context, group,
                        transport.serverChannel(), connections, context.config().bindAddress(), l.jsonline()));
            }
        } catch (Exception e) {
            close();
            throw e;
        }
        context.registry().ready().whenComplete((ok, failure) -> {
            if (failure != null) {
                log.warn("registry {} did not answer; staying not ready: {}", context.registry().describe(), failure.toString());
            } else if (state.compareAndSet(State.STARTING, State.READY)) {
                log.info("ready: listeners bound ({} transport{}), registry {} answered", transport.name().toLowerCase(Locale.ROOT),
                        transport.readRing() ? ", reads into a buffer ring" : "", context.registry().describe());
            }
        });
    }

    /** The readiness state; thread-safe. */
    public State state() {
        return state.get();
    }

    /** Marks the sidecar as draining: {@code GET /ready} answers 503 from now on. Idempotent. */
    public void beginDrain() {
        if (state.getAndSet(State.DRAINING) != State.DRAINING) {
            log.info("draining");
        }
    }

    /**
     * The second step of a drain: the inbound, tcp and jsonline listeners stop accepting, and open
     * inbound connections get {@link io.outrigger.lifecycle.DrainEvent} (they answer the request in
     * flight with {@code Connection: close} and close; idle ones close after 250 ms without a request). Live tcp relays and jsonline
     * sessions go on; admin and outbound keep accepting. Never blocks.
     *
     * @return completes when the listeners stopped are closed
     */
    public synchronized ChannelGroupFuture stopIntake() {
        intakeStopped = true;
        ChannelGroup stopped = new DefaultChannelGroup("outrigger-intake", GlobalEventExecutor.INSTANCE);
        serverChannels.forEach((name, ch) -> {
            if (isIntake(name)) {
                stopped.add(ch);
                whenClosedDrain(name, ch);
            }
        });
        return stopped.close();
    }

    /** Listeners that stop accepting at {@link #stopIntake()}: traffic from outside to this service. */
    private static boolean isIntake(String listener) {
        return listener.equals("inbound") || listener.equals("jsonline") || listener.startsWith("tcp:");
    }

    private void whenClosedDrain(String name, Channel serverChannel) {
        serverChannel.closeFuture().addListener(f -> {
            // Only once the port refuses: a client whose connection the drain closes cannot reconnect into a closing backlog.
            if (name.equals("inbound")) {
                connections.drain(serverChannel);
            }
            log.info("{} listener stopped accepting; {} connections still open", name, connections.count(serverChannel));
        });
    }

    /** Starts active health checks when {@code health.interval_ms} is above 0. */
    private void startHealthChecks() {
        SidecarConfig.Health h = context.config().health();
        if (h.intervalMillis() > 0) {
            healthChecker = new ActiveHealthChecker(context.registry(), context.health(), group.next(), transport,
                    h.path(), h.intervalMillis(), h.timeoutMillis()).start();
        }
    }

    /** Binds one listener: a port the system refuses becomes a {@link ListenerBindException} naming address, key and reason. */
    private void bind(String listener, String key, int port, Binder binder) throws Exception {
        Channel serverChannel;
        try {
            serverChannel = binder.bind();
        } catch (IOException e) { // bind(2) refused: Netty's native transports and the JDK's both say so with an IOException
            // EADDRNOTAVAIL: the address is not this host's, whatever the port: bind_address is what to fix
            String blamed = ListenerBindException.addressNotLocal(e) ? "bind_address" : key;
            throw new ListenerBindException(context.config().bindAddress(), port, blamed, e);
        } catch (UnresolvedAddressException e) { // bind_address names no address this host could find
            throw new ListenerBindException(context.config().bindAddress(), port, "bind_address", e);
        }
        register(listener, serverChannel);
    }

    @FunctionalInterface
    private interface Binder {
        Channel bind() throws Exception;
    }

    /** Records a bound server channel under a listener name (admin, outbound, ...). */
    public synchronized void register(String listener, Channel serverChannel) {
        serverChannels.put(listener, serverChannel);
        connections.name(serverChannel, listener);
        int port = ((InetSocketAddress) serverChannel.localAddress()).getPort();
        boundPorts.put(listener, port);
        log.info("{} listener bound on {}:{}", listener, context.config().bindAddress(), port);
        if (intakeStopped && isIntake(listener)) {
            whenClosedDrain(listener, serverChannel); // a drain began while the listeners were binding
            serverChannel.close();
        }
    }

    /** How many connections accepted by the listener {@code name} (admin, inbound, ...) are open; 0 for no such listener. */
    public synchronized int openConnections(String name) {
        Channel ch = serverChannels.get(name);
        return ch == null ? 0 : connections.count(ch);
    }

    /** The bound port of each listener, by name; port 0 in the config shows the port picked. */
    public synchronized Map<String, Integer> boundPorts() {
        return Map.copyOf(boundPorts);
    }

    /**
     * Closes the listeners, every connection they accepted, the event loops and the registry;
     * blocks until done (at most a few seconds). Idempotent; never call it on an event loop.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (healthChecker != null) {
            healthChecker.close();
        }
        Channel[] listeners;
        synchronized (this) {
            listeners = serverChannels.values().toArray(new Channel[0]);
        }
        for (Channel ch : listeners) {
            ch.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        connections.closeAll().awaitUninterruptibly(5, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        context.registry().close();
        // The loops have stopped, so every finished request's line is queued: write them before the JVM may exit.
        if (!HttpListeners.awaitAccessLogWritten(2_000)) {
            log.warn("access log: lines still unwritten after 2 s");
        }
        log.info("closed");
    }
}

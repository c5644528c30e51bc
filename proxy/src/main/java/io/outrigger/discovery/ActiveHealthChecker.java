package io.outrigger.discovery;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.resolver.AddressResolverGroup;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import io.outrigger.listener.DnsResolvers;
import io.outrigger.listener.ReadBufferShortage;
import io.outrigger.listener.Transports;
import io.outrigger.upstream.OutOfDescriptors;
import io.outrigger.upstream.OutOfMemory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.ConnectException;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Active health checks: every {@code intervalMillis}, a {@code GET path} to each instance of the services
 * this sidecar routes to ({@link HealthTracker#routedServices()}); a readable 2xx passes, anything else (status,
 * an answer the HTTP codec cannot read, refused connection, reset, no answer within {@code timeoutMillis}) fails. Results go to
 * {@link HealthTracker#onCheckPassed}/{@link HealthTracker#onCheckFailed}, which apply
 * {@code unhealthy_after}/{@code healthy_after}. A check the sidecar cannot even make, because it is
 * out of file descriptors (EMFILE) or of memory for the check's buffers, is no verdict on the instance and is skipped.
 *
 * <p>Only routed services are checked, so a sidecar beside one service does not probe a whole registry,
 * and instances nobody calls (such as the example addresses of {@code config/registry.json}) are never
 * contacted. One check per instance is in flight at a time. Everything runs on one event loop; thread-safe.
 */
public final class ActiveHealthChecker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ActiveHealthChecker.class);

    private final Registry registry;
    private final HealthTracker health;
    private final EventLoop loop;
    private final Bootstrap bootstrap;
    private final String path;
    private final long intervalMillis;
    private final long timeoutMillis;
    private final Set<String> inFlight = ConcurrentHashMap.newKeySet();
    private volatile ScheduledFuture<?> ticks;

    /**
     * @param intervalMillis time between two checks of an instance, > 0
     * @param timeoutMillis  a check's deadline, connect included; capped at {@code intervalMillis}
     */
    public ActiveHealthChecker(Registry registry, HealthTracker health, EventLoop loop, Transports transport,
                               String path, long intervalMillis, long timeoutMillis) {
        this(registry, health, loop, transport, path, intervalMillis, timeoutMillis, null);
    }

    /** @param allocator the checks' buffers (tests: one that runs out of memory), or null for the default */
    ActiveHealthChecker(Registry registry, HealthTracker health, EventLoop loop, Transports transport,
                        String path, long intervalMillis, long timeoutMillis, ByteBufAllocator allocator) {
        if (intervalMillis <= 0) {
            throw new IllegalArgumentException("intervalMillis: " + intervalMillis + " (expected: > 0)");
        }
        this.registry = registry;
        this.health = health;
        this.loop = loop;
        this.path = path;
        this.intervalMillis = intervalMillis;
        this.timeoutMillis = Math.max(1, Math.min(timeoutMillis, intervalMillis));
        // The sidecar's asynchronous resolver, as for proxied traffic: Bootstrap's default looks a host name up with the
        // JDK's blocking InetAddress, on this event loop, which carries proxied exchanges too.
        this.bootstrap = new Bootstrap().group(loop).channel(transport.clientChannel()).resolver(DnsResolvers.forTransport(transport))
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, this.timeoutMillis))
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ReadBufferShortage.installOn(ch);
                        ch.pipeline().addLast(new HttpClientCodec());
                    }
                });
        if (allocator != null) {
            bootstrap.option(ChannelOption.ALLOCATOR, allocator);
        }
    }

    /** Starts the checks; the first round runs at once. */
    public ActiveHealthChecker start() {
        ticks = loop.scheduleAtFixedRate(this::checkAll, 0, intervalMillis, TimeUnit.MILLISECONDS);
        log.info("active health checks: GET {} every {} ms (timeout {} ms)", path, intervalMillis, timeoutMillis);
        return this;
    }

    /** Runs one round of checks now (tests; the timer calls it every interval). */
    public void checkAll() {
        for (String service : health.routedServices()) {
            for (Endpoint e : registry.listed(service)) { // listed: a service gone from the registry is not watched again
                String key = service + '/' + e;
                if (inFlight.add(key)) {
                    check(service, e).addListener(f -> inFlight.remove(key));
                }
            }
        }
    }

    private Promise<Void> check(String service, Endpoint endpoint) {
        Promise<Void> done = loop.newPromise();
        ChannelFuture connect = bootstrap.connect(DnsResolvers.address(endpoint.host(), endpoint.port()));
        Channel ch = connect.channel();
        ScheduledFuture<?> deadline = loop.schedule(() -> {
            if (done.trySuccess(null)) {
                health.onCheckFailed(service, endpoint, "no answer within " + timeoutMillis + " ms");
            }
        }, timeoutMillis, TimeUnit.MILLISECONDS);
        done.addListener(f -> {
            deadline.cancel(false);
            if (ch.isRegistered()) { // unregistered: no socket was made (EMFILE), and closing Netty's stand-in channel throws
                ch.close();
            }
        });
        connect.addListener((ChannelFuture f) -> {
            if (!f.isSuccess()) {
                if (OutOfDescriptors.causedBy(f.cause())) {
                    skip(done, service, endpoint, "file descriptors"); // no socket could be made: the instance was never asked
                    return;
                }
                if (done.trySuccess(null)) {
                    health.onCheckFailed(service, endpoint, describe(f.cause()));
                }
                return;
            }
            if (ch.eventLoop().isShuttingDown()) {
                // Connected as the loop closes (io_uring drains its ring then): a request written now would never be
                // sent, and its encoded buffer never released. No verdict on the instance.
                skip(done, service, endpoint, "time: it is shutting down");
                return;
            }
            ch.pipeline().addLast(new StatusHandler(service, endpoint, done));
            FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
            req.headers().set(HttpHeaderNames.HOST, endpoint.authority())
                    .set(HttpHeaderNames.USER_AGENT, "outrigger-health-check")
                    .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            ch.writeAndFlush(req).addListener((ChannelFuture w) -> {
                if (!w.isSuccess() && OutOfMemory.causedBy(w.cause())) {
                    skip(done, service, endpoint, "memory"); // the request could not be encoded: the instance was never asked
                }
            });
        });
        return done;
    }

    /** Ends a check that the sidecar's own shortage of {@code what} failed: no verdict on the instance. */
    private static void skip(Promise<Void> done, String service, Endpoint endpoint, String what) {
        if (done.trySuccess(null)) {
            log.debug("health check of {} {} skipped: the sidecar is out of {}", service, endpoint, what);
        }
    }

    /** The resolver the checks' connections use (tests). */
    AddressResolverGroup<?> resolver() {
        return bootstrap.config().resolver();
    }

    /** Whether a check is under way (tests). */
    boolean checking() {
        return !inFlight.isEmpty();
    }

    private static String describe(Throwable t) {
        if (t instanceof ConnectException && String.valueOf(t.getMessage()).toLowerCase(Locale.ROOT).contains("refused")) {
            return "connection refused";
        }
        String m = t.getMessage();
        return m == null ? t.getClass().getSimpleName() : m;
    }

    @Override
    public void close() {
        ScheduledFuture<?> t = ticks;
        if (t != null) {
            t.cancel(false);
        }
    }

    /** Judges a check by the status line of the answer; content is released unread. */
    private final class StatusHandler extends SimpleChannelInboundHandler<HttpObject> {
        private final String service;
        private final Endpoint endpoint;
        private final Promise<Void> done;

        StatusHandler(String service, Endpoint endpoint, Promise<Void> done) {
            this.service = service;
            this.endpoint = endpoint;
            this.done = done;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            if (msg instanceof HttpResponse res && done.trySuccess(null)) {
                int code = res.status().code();
                if (res.decoderResult().isFailure()) {
                    // Not HTTP, or a head the codec gave up on (a header over its limit): the status is Netty's stand-in
                    // (999) or the one read before the head broke, and the proxy answers such an instance's traffic 502.
                    health.onCheckFailed(service, endpoint, "a malformed answer (" + describe(res.decoderResult().cause()) + ")");
                } else if (code >= 200 && code < 300) {
                    health.onCheckPassed(service, endpoint);
                } else {
                    health.onCheckFailed(service, endpoint, "status " + code);
                }
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (done.trySuccess(null)) {
                health.onCheckFailed(service, endpoint, "connection closed without an answer");
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (OutOfMemory.causedBy(cause)) {
                skip(done, service, endpoint, "memory"); // no buffer for the answer: the sidecar's shortage, not the instance's
            } else if (done.trySuccess(null)) {
                health.onCheckFailed(service, endpoint, describe(cause));
            }
            ctx.close();
        }
    }
}

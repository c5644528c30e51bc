package io.outrigger.tcp;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.resolver.AddressResolverGroup;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.outrigger.SidecarContext;
import io.outrigger.discovery.Endpoint;
import io.outrigger.listener.DnsResolvers;
import io.outrigger.listener.ReadBufferShortage;
import io.outrigger.listener.Transports;
import io.outrigger.resilience.Backoff;
import io.outrigger.resilience.CircuitBreaker;
import io.outrigger.resilience.Retrier;
import io.outrigger.resilience.RetryBudget;
import io.outrigger.time.WarnLimiter;
import io.outrigger.upstream.OutOfDescriptors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * Connects a newly accepted client to one instance of the service, then hands the connection to
 * a pair of {@link RelayHandler}s and leaves the pipeline.
 *
 * <p>Resilience applies at connect time only, before any byte is relayed:
 * <pre>
 *   service breaker permits? --no--> close client (503)
 *   attempt k: next healthy instance whose breaker permits, not tried yet when another exists
 *              --connect refused/timed out--> instance breaker + health told, retry after backoff(k)
 *   connected: instance and service breaker told success, relay starts
 *   retries exhausted (resilience.retry.max_retries): service breaker told failure, close client (502)
 * </pre>
 * The upstream channel uses the client channel's event loop, so the relay needs no locks. Bytes
 * and a FIN that arrive while connecting (epoll reads on a FIN or a reset even with {@code AUTO_READ}
 * off; on io_uring and NIO the handler reads, up to 64 KiB, to see a client that leaves) are held and replayed
 * into the relay in order. Each
 * finished connection is reported as {@code metrics().onExchange("tcp", service, instance, status,
 * attempts, lifetime)} with status 0 for a relayed connection, 502 when no instance could be
 * connected, 503 when none could be tried (a failure of the service when instance breakers refused a call
 * its closed breaker let through, else no verdict: a half-open service breaker's probe is then given back)
 * and 499 (as the HTTP edges log a client that closed) when the client left while its upstream was
 * being connected. Not sharable: one per connection, used on its
 * event loop only.
 */
final class TcpConnectHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(TcpConnectHandler.class);
    private static final String EDGE = "tcp";
    /**
     * How many bytes a client on io_uring or NIO may send before its upstream is connected and still be read. NIO
     * watches a connection for nothing while no read is asked for, and io_uring, once it has seen the client's
     * first bytes, arms nothing until a read is asked; so a client that resets or leaves meanwhile goes unseen
     * (its connect and retries go on, a half-open probe is held) unless the connection is read. epoll sees a FIN
     * or a reset with reading off.
     */
    private static final int EARLY_READ_LIMIT = 64 * 1024;
    /** How often one attempt picks again when the picked instance's breaker refuses its permit (see {@link #connect}). */
    private static final int PICKS_PER_ATTEMPT = 4;

    private final SidecarContext context;
    private final Transports transport;
    private final WarnLimiter refusals;
    private final AddressResolverGroup<InetSocketAddress> resolver;
    private final String service;
    private final long idleTimeoutMillis;
    private final List<Endpoint> tried = new ArrayList<>();
    /** Bytes read before the upstream was connected (a FIN makes the transport read even with AUTO_READ off). */
    private final List<Object> early = new ArrayList<>();
    private int earlyBytes;
    private boolean earlyInputShutdown;
    private long startNanos;
    private Endpoint instance;
    private Future<Channel> connecting;
    /** The permit of the service's breaker, given back when the connect ends with no verdict on the service. */
    private long servicePermit;
    /** Retries taken from the budget by this connection's connect, given back when it is over. */
    private int retriesTaken;

    /** @param idleTimeoutMillis idle time after which the upstream side closes too (0: never) */
    TcpConnectHandler(SidecarContext context, Transports transport, AddressResolverGroup<InetSocketAddress> resolver,
                      String service, long idleTimeoutMillis, WarnLimiter refusals) {
        this.context = context;
        this.refusals = refusals;
        this.transport = transport;
        this.resolver = resolver;
        this.service = service;
        this.idleTimeoutMillis = idleTimeoutMillis;
    }

    /** No instance could be tried: none healthy, or every breaker open. Not retried. */
    private static final class NoInstanceException extends Exception {
        private static final long serialVersionUID = 1L;

        NoInstanceException(String message) {
            super(message, null, false, false);
        }
    }

    /** One attempt failed; another instance (or the same, after a backoff) may do better. */
    private static final class AttemptFailedException extends Exception {
        private static final long serialVersionUID = 1L;

        AttemptFailedException(String message, Throwable cause) {
            super(message, cause, false, false);
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        startNanos = context.ticker().nanos();
        Channel client = ctx.channel();
        CircuitBreaker serviceBreaker = context.breakers().forService(service);
        servicePermit = serviceBreaker.acquirePermission();
        if (servicePermit == CircuitBreaker.NO_PERMIT) {
            giveUp(client, 503, "breaker of service " + service + " is open (" + serviceBreaker.snapshot().reason() + ")");
            return;
        }
        // A connecting client counts as a request in flight for the shared retry budget, and each
        // retry must fit in it, as on the HTTP edges: a dead service cannot multiply connects.
        RetryBudget budget = context.retryBudget();
        budget.onRequestStart();
        Backoff limits = context.backoff().withMaxRetries(context.config().resilience().retry().maxRetries());
        Backoff backoff = retry -> {
            long delay = limits.nextDelayMillis(retry);
            if (delay < 0) {
                return delay;
            }
            if (retriesTaken > 0) {
                retriesTaken--;
                budget.releaseRetry(); // the retry before this one has ended: the budget bounds retries in flight
            }
            if (!budget.tryAcquireRetry()) {
                context.metrics().onRetryBudgetExhausted(EDGE, service);
                log.debug("tcp {}: retry budget exhausted, no retry {}", service, retry);
                return -1;
            }
            retriesTaken++;
            return delay;
        };
        connecting = Retrier.run(client.eventLoop(), backoff, AttemptFailedException.class::isInstance,
                (retry, delayMillis, cause) -> log.debug("tcp {}: retry {} in {} ms after {}", service, retry, delayMillis, cause.getMessage()),
                attempt -> connect(client, attempt));
        readEarly(ctx);
        connecting.addListener(f -> {
            for (; retriesTaken > 0; retriesTaken--) {
                budget.releaseRetry();
            }
            budget.onRequestEnd();
            if (f.isSuccess()) {
                serviceBreaker.onSuccess();
                startRelay(ctx, (Channel) f.getNow());
            } else if (f.isCancelled()) {
                // No verdict on the service: a half-open breaker's probe taken by this client is given back.
                serviceBreaker.releasePermission(servicePermit);
                log.debug("tcp {}: client {} left before an upstream was connected", service, client.remoteAddress());
                context.metrics().onExchange(EDGE, service, instance, 499, tried.size(), context.ticker().nanos() - startNanos);
            } else if (!tried.isEmpty() && OutOfDescriptors.causedBy(f.cause())) {
                // The sidecar's own descriptor limit: no verdict on the service, a probe taken goes back.
                serviceBreaker.releasePermission(servicePermit);
                giveUp(client, 502, f.cause().getMessage() + " after " + tried.size() + " attempt(s)");
            } else if (!tried.isEmpty()) {
                // Connects failed (the last attempt may have found every instance's breaker open since).
                serviceBreaker.onFailure();
                giveUp(client, 502, f.cause().getMessage() + " after " + tried.size() + " attempt(s)");
            } else if (anyInstanceBreakerRefuses() && !CircuitBreaker.isProbe(servicePermit)) {
                // No instance could be tried because breakers refused: the service is failing its callers, as
                // the HTTP edges judge a request every instance's breaker turns away. (A half-open service
                // breaker's probe probed nothing: it goes back, below.)
                serviceBreaker.onFailure();
                giveUp(client, 503, f.cause().getMessage());
            } else {
                // No instance to try (none healthy, none listed): no verdict on the service, so a probe taken goes back.
                serviceBreaker.releasePermission(servicePermit);
                giveUp(client, 503, f.cause().getMessage());
            }
        });
    }

    private boolean anyInstanceBreakerRefuses() {
        for (Endpoint e : context.registry().endpoints(service)) {
            CircuitBreaker b = context.breakers().findInstance(service, e);
            if (b != null && !b.isCallPermitted()) {
                return true;
            }
        }
        return false;
    }

    /** Attempt {@code attempt} (from 1): a retry is counted in the metrics when it is made, as on the HTTP edges, not when planned. */
    private Future<Channel> connect(Channel client, int attempt) {
        EventLoop loop = client.eventLoop();
        Endpoint e;
        CircuitBreaker breaker;
        long permit;
        // The picked instance's breaker may refuse although the pick found it willing: another event loop took
        // its last half-open probe in between. It then reads as refusing and the next pick passes it by.
        for (int round = 0; ; round++) {
            e = context.selector().next(service, tried);
            if (e == null) {
                String why = context.registry().endpoints(service).isEmpty()
                        ? "service " + service + " has no instance in " + context.registry().describe()
                        : "no healthy instance of " + service + " with a closed breaker";
                return loop.newFailedFuture(new NoInstanceException(why));
            }
            breaker = context.breakers().forInstance(service, e);
            permit = breaker.acquirePermission();
            if (permit != CircuitBreaker.NO_PERMIT) {
                break;
            }
            if (round == PICKS_PER_ATTEMPT - 1) {
                return loop.newFailedFuture(new AttemptFailedException("breaker of " + e + " is open", null));
            }
        }
        return connect(client, attempt, e, breaker, permit);
    }

    /** Connects to {@code e}, whose breaker granted {@code permit}; the breaker and health hear the outcome. */
    private Future<Channel> connect(Channel client, int attempt, Endpoint e, CircuitBreaker breaker, long permit) {
        EventLoop loop = client.eventLoop();
        tried.add(e);
        instance = e;
        if (attempt > 1) {
            context.metrics().onRetry(EDGE, service);
        }
        Promise<Channel> result = loop.newPromise();
        Bootstrap bootstrap = new Bootstrap();
        // Not Transports.readFromRing: a channel reading into the ring keeps a multishot receive armed whatever
        // the relay asks, so a fast sender fills the loop's shared ring with bytes queued for a slow reader; with
        // the receiving side half-closed first the relay then stalled, megabytes unsent, until the idle timeout
        // closed it with a FIN (the slow side saw a cut stream as complete). The relay reads one chunk at a time.
        ChannelFuture cf = bootstrap
                .group(loop)
                .channel(transport.clientChannel())
                .resolver(resolver)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, context.config().resilience().timeouts().connectMillis()))
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel upstream) {
                        ReadBufferShortage.installOn(upstream);
                        // Idle on this side too: an upstream that stops reading after the client left
                        // would otherwise hold its unflushed bytes, and this channel, forever.
                        TcpRelayInitializer.addIdleHandlers(upstream.pipeline(), idleTimeoutMillis);
                        upstream.pipeline().addLast("relay", new RelayHandler(client));
                    }
                })
                .connect(DnsResolvers.address(e.host(), e.port()));
        cf.addListener(done -> {
            if (done.isSuccess()) {
                breaker.onSuccess();
                context.health().onSuccess(service, e);
                if (!client.isActive()) {
                    // The client left while we connected: reset, as its bytes (if any) are lost and a FIN would
                    // tell the upstream an empty stream had arrived whole.
                    RelayHandler.reset(cf.channel());
                }
                result.setSuccess(cf.channel());
            } else if (OutOfDescriptors.causedBy(done.cause())) {
                // No socket could be created: the sidecar is out of file descriptors, the instance is not to blame.
                breaker.releasePermission(permit);
                result.setFailure(new AttemptFailedException("cannot open a connection to " + e
                        + ": too many open files (the sidecar's open-files limit)", done.cause()));
            } else {
                breaker.onFailure();
                context.health().onFailure(service, e, failureCause(done.cause()));
                result.setFailure(new AttemptFailedException("connect to " + e + " failed: " + done.cause().getMessage(), done.cause()));
            }
        });
        return result;
    }

    /** Worded as the HTTP edges word it at /clusters, not as the transport's exception class and message. */
    private static String failureCause(Throwable cause) {
        return cause instanceof ConnectTimeoutException ? "connect timeout"
                : cause instanceof ConnectException ? "connection refused" : "connect failed: " + cause;
    }

    private void startRelay(ChannelHandlerContext ctx, Channel upstream) {
        Channel client = ctx.channel();
        int attempts = tried.size();
        Endpoint connected = instance;
        client.closeFuture().addListener(f -> context.metrics().onExchange(EDGE, service, connected, 0, attempts,
                context.ticker().nanos() - startNanos));
        if (!client.isActive()) {
            RelayHandler.reset(upstream); // as in connect: the client's stream was cut
            return;
        }
        log.debug("tcp {}: relaying {} <-> {}", service, client.remoteAddress(), connected);
        List<Object> held = new ArrayList<>(early);
        early.clear();
        ctx.pipeline().replace(this, "relay", new RelayHandler(upstream));
        for (Object msg : held) {
            client.pipeline().fireChannelRead(msg);
        }
        if (earlyInputShutdown) {
            client.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        } else {
            RelayHandler.readMore(client);
        }
        RelayHandler.readMore(upstream);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        early.add(msg);
        if (msg instanceof ByteBuf b) {
            earlyBytes += b.readableBytes();
        }
        readEarly(ctx);
    }

    /** On io_uring and NIO, reads while the upstream is being connected, up to {@link #EARLY_READ_LIMIT}, so that a client gone meanwhile is seen. */
    private void readEarly(ChannelHandlerContext ctx) {
        if (transport != Transports.EPOLL && connecting != null && !connecting.isDone() && !earlyInputShutdown
                && earlyBytes < EARLY_READ_LIMIT) {
            ctx.read();
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt == ChannelInputShutdownEvent.INSTANCE) {
            earlyInputShutdown = true;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        early.forEach(ReferenceCountUtil::release);
        early.clear();
    }

    private void giveUp(Channel client, int status, String why) {
        int unreported = refusals.admit();
        if (unreported < 0) {
            log.debug("tcp {}: closing client {}: {}", service, client.remoteAddress(), why);
        } else if (unreported == 0) {
            log.warn("tcp {}: closing client {}: {}", service, client.remoteAddress(), why);
        } else {
            log.warn("tcp {}: closing client {}: {} ({} more since the last report)", service, client.remoteAddress(), why, unreported);
        }
        context.metrics().onExchange(EDGE, service, instance, status, tried.size(), context.ticker().nanos() - startNanos);
        client.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (connecting != null) {
            connecting.cancel(false); // stops further attempts; a connect already made is closed above
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("tcp {}: client {} failed before relaying: {}", service, ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}

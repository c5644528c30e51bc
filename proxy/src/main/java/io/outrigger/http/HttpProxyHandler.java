package io.outrigger.http;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.outrigger.SidecarContext;
import io.outrigger.lifecycle.ConnectionTracker;
import io.outrigger.lifecycle.DrainEvent;
import io.outrigger.upstream.OutOfMemory;
import io.outrigger.upstream.UpstreamPools;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * One client connection of an HTTP listener: takes requests one at a time, gives each to a
 * {@link ProxyExchange} and decides when to read from the client ({@code AUTO_READ} is off).
 *
 * <pre>
 *   ... -> HttpListenerCodec -> HttpRequestGuard -> HttpProxyHandler ==(ProxyExchange)==> upstream pool
 * </pre>
 *
 * Pipelined requests that arrive while an exchange runs wait in a queue (at most one read's
 * worth, since nothing more is read). On {@link DrainEvent} the request in flight is answered
 * with {@code Connection: close} and the connection closes (one whose answer began before closes as
 * an idle one, after that answer); an idle keep-alive connection closes
 * once it has had no request for {@value #DRAIN_QUIET_MILLIS} ms (a request that comes, maybe on its way
 * already, is answered, then it closes); a connection that has not sent its first request yet gets that one answered, then
 * closes. At the drain's deadline, a connection still taking an answer that ends with the connection (an
 * HTTP/1.0 client's, without a length) is reset, not closed, so its client cannot take the cut answer for a
 * whole one. One per connection, used on its event loop only.
 */
final class HttpProxyHandler extends ChannelDuplexHandler {
    private static final Logger log = LoggerFactory.getLogger(HttpProxyHandler.class);
    /** How long an idle keep-alive connection stays open once its listener drains, for a request already on its way. */
    static final long DRAIN_QUIET_MILLIS = 250;

    final SidecarContext context;
    final HttpRoute route;
    final UpstreamPools pools;
    ChannelHandlerContext ctx;
    String remoteIp;
    /** The connection closes once the current response is written. */
    boolean closing;
    /** The listener drains: the next response is the last. */
    private boolean draining;
    /** Whether a request came on this connection. */
    private boolean served;

    private ProxyExchange current;
    private ArrayDeque<Object> queued;
    /** The request-deadline check: one timer per connection, re-armed by the exchange it finds (none per request). */
    private ScheduledFuture<?> deadlineTimer;

    HttpProxyHandler(SidecarContext context, HttpRoute route, UpstreamPools pools) {
        this.context = context;
        this.route = route;
        this.pools = pools;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        SocketAddress remote = ctx.channel().remoteAddress();
        remoteIp = remote instanceof InetSocketAddress ? ((InetSocketAddress) remote).getAddress().getHostAddress() : String.valueOf(remote);
        draining = DrainEvent.requested(ctx.channel()); // the event may have come before this pipeline was built
        ctx.read();
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (closing && current == null) {
            ReferenceCountUtil.release(msg);
        } else if ((queued != null && !queued.isEmpty()) || (current != null && current.requestComplete())) {
            if (queued == null) {
                queued = new ArrayDeque<>(4);
            }
            queued.add(msg);
        } else {
            dispatch(msg);
        }
    }

    private void dispatch(Object msg) {
        if (msg instanceof HttpRequest) {
            HttpRequest request = (HttpRequest) msg;
            served = true;
            closing |= draining;
            ProxyExchange ex = new ProxyExchange(this, request);
            current = ex;
            ex.start();
            // An answered request may still have its body on the way; the content branch below drains it.
            if (msg instanceof HttpContent) {
                ex.onRequestContent((HttpContent) msg);
            }
        } else if (msg instanceof HttpContent) {
            if (current != null) {
                current.onRequestContent((HttpContent) msg);
            } else {
                ReferenceCountUtil.release(msg);
            }
        } else if (msg instanceof RejectedRequest) {
            refuse((RejectedRequest) msg);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    /** Answers the guard's refusal: of the rest of the request in flight (its body too large), or of the next request. */
    private void refuse(RejectedRequest rejected) {
        if (current != null) {
            current.reject(rejected.error());
        } else if (closing) {
            // The last answer said Connection: close (its write may still be pending): what the client sent after
            // it is dropped, as channelRead drops a request then; neither answered nor counted.
            log.debug("{}: refusal after the last answer dropped: {}", ctx.channel(), rejected.error());
        } else {
            closing = true;
            answerRejected(ctx, rejected);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (current != null) {
            current.flushUpstream();
        }
        updateClientRead();
        ctx.fireChannelReadComplete();
    }

    /** Reads from the client when the current state can take more: a new request, or body the upstream can absorb. */
    void updateClientRead() {
        if (!ctx.channel().isActive()) {
            return;
        }
        // A closing connection still reads the body of the request in flight (the upstream may be waiting for it).
        // While a whole request waits for its answer, one more read stays armed so a client that hangs up
        // is noticed at once (and the upstream side dropped). What it brings in waits in the queue, which
        // stops further reads.
        if (current == null ? !closing
                : current.wantsRequestData() || (current.requestComplete() && (queued == null || queued.isEmpty()))) {
            ctx.read();
        }
    }

    /**
     * Makes sure the deadline check runs within {@code delayNanos}. A timer already armed fires
     * no later than any deadline set after it (all share one timeout), so it is kept.
     */
    void armDeadlineTimer(long delayNanos) {
        if (deadlineTimer == null) {
            deadlineTimer = ctx.executor().schedule(this::deadlineCheck, delayNanos, TimeUnit.NANOSECONDS);
        }
    }

    private void deadlineCheck() {
        deadlineTimer = null;
        if (current != null) {
            current.checkDeadline();
        }
    }

    /** The exchange is over on both sides; serves queued pipelined requests, then reads the next. */
    void exchangeDone(ProxyExchange ex) {
        if (current != ex) {
            return;
        }
        current = null;
        if (closing) {
            releaseQueued();
            // Not while the client still sends the request: its answer's lingering close reads and drops the rest,
            // and closing now would reset the upload, which can cost the client that answer.
            if (draining && ex.requestComplete()) {
                closeAfterWrites();
            }
            return;
        }
        while (queued != null && !queued.isEmpty()) {
            Object next = queued.peek();
            if (current != null && (next instanceof HttpRequest || next instanceof RejectedRequest && current.requestComplete())) {
                break; // the next request, or the refusal of the next one: after this exchange
            }
            queued.poll();
            dispatch(next);
        }
        if (current != null) {
            current.flushUpstream(); // body dispatched from the queue: no channelReadComplete follows to flush it
        } else if (draining && !closing) {
            // The answer went out as keep-alive before the drain reached it: its client may send the next request
            // the moment it ends, so the connection closes as an idle one does, after the quiet time.
            scheduleCloseIfIdle();
        }
        updateClientRead();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (current != null && ctx.channel().isWritable()) {
            current.onClientWritable();
        }
        ctx.fireChannelWritabilityChanged();
    }

    /**
     * Answers a request refused before any exchange began, and closes: the trace headers are echoed
     * (continued from {@code head}, or new when the head could not be read) and the service named
     * when the head names one, like every other answer of the sidecar.
     */
    private void answerRejected(ChannelHandlerContext ctx, RejectedRequest rejected) {
        ProxyError error = rejected.error();
        HttpRequest head = rejected.head();
        // Counted from the request's first byte: a 408 took http.header_timeout_ms, not no time at all.
        long nanos = rejected.startNanos() == 0 ? 0 : Math.max(0, ctx.executor().ticker().nanoTime() - rejected.startNanos());
        String service = head == null ? null : route.service(head);
        RequestTrace trace = RequestTrace.of(head == null ? null : head.headers());
        FullHttpResponse res = HttpErrors.response(ctx.alloc(), error, service, true);
        trace.applyTo(res.headers());
        ctx.writeAndFlush(res).addListener(LingeringClose.INSTANCE); // the refused request's bytes may still be arriving
        int status = error.status().code();
        String label = service != null && route.knows(service) ? service : ProxyExchange.UNKNOWN_SERVICE;
        context.metrics().onExchange(route.edge(), label, null, status, 0, nanos);
        if (route.accessLog() != null) {
            route.accessLog().log(ctx.executor(), route.edge(), trace.traceId(), trace.requestId(),
                    head == null ? null : head.method().name(), head == null ? null : head.uri(), service, null, status, 0, nanos);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt == DrainEvent.INSTANCE) {
            drain();
            return;
        }
        if (evt instanceof RejectedRequest) {
            if ((queued != null && !queued.isEmpty()) || (current != null && current.requestComplete())) {
                // A request pipelined behind the one in flight is refused, not that one: answered in its turn.
                if (queued == null) {
                    queued = new ArrayDeque<>(4);
                }
                queued.add(evt);
            } else {
                refuse((RejectedRequest) evt);
            }
            return;
        }
        if (evt instanceof IdleStateEvent) {
            if (current == null) {
                ctx.close(); // an idle keep-alive connection; a running exchange has its own deadline
            } else if (current.wantsRequestData()) {
                // A read is armed for the rest of the request and nothing came: the client stopped half-way.
                // (The deadline only starts with the body's end, so nothing else would end the exchange.)
                current.clientStalled();
            } else if (current.waitsOnUpstream()) {
                // Reads are off because the instance takes none of the body: nothing else would end the exchange.
                current.upstreamStalled();
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    /** The sidecar's shutdown cuts this connection ({@link ConnectionTracker#closeAll()}): see the class comment. */
    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        if (current != null && current.endsWithTheConnection() && ConnectionTracker.closedBySidecar(ctx.channel())
                && ctx.channel().isActive()) {
            ctx.channel().config().setOption(ChannelOption.SO_LINGER, 0);
        }
        ctx.close(promise);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        closing = true;
        if (deadlineTimer != null) {
            deadlineTimer.cancel(false);
            deadlineTimer = null;
        }
        if (current != null) {
            current.clientGone(ConnectionTracker.closedBySidecar(ctx.channel()));
        }
        releaseQueued();
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("{}: client connection failed", ctx.channel(), cause);
        if (OutOfMemory.causedBy(cause)) {
            // No buffer for this connection (epoll and NIO fail its read so): the sidecar cuts what it has in flight (503).
            ConnectionTracker.markClosedBySidecar(ctx.channel());
        }
        ctx.close();
    }

    /**
     * Idempotent: the event may come twice. A keep-alive connection between requests closes after
     * {@value #DRAIN_QUIET_MILLIS} ms without a request, unless the client has started sending its next request: that one is answered (with
     * {@code Connection: close}) like a request in flight, so no request the client already sent
     * is lost; the header timeout still bounds how long its head may take.
     */
    private void drain() {
        draining = true;
        if (current != null) {
            // Its answer says Connection: close; one whose head went out before cannot, and its connection
            // closes after it as an idle one does (exchangeDone).
            if (!current.responseStarted()) {
                closing = true;
            }
        } else if (served && !closing && !headUnderWay()) {
            // Not at once: a client that sends back to back may have its next request on the way already, and
            // closing now would lose it. One that comes within the quiet time is answered (draining: with
            // Connection: close); a connection still idle then closes.
            scheduleCloseIfIdle();
        }
    }

    private void scheduleCloseIfIdle() {
        ctx.executor().schedule(this::closeIfIdle, DRAIN_QUIET_MILLIS, TimeUnit.MILLISECONDS);
    }

    private void closeIfIdle() {
        if (current == null && !closing && ctx.channel().isActive() && !headUnderWay()) {
            closing = true;
            closeAfterWrites();
        }
    }

    private boolean headUnderWay() {
        HeaderTimeoutHandler headerTimeout = ctx.pipeline().get(HeaderTimeoutHandler.class);
        return headerTimeout != null && headerTimeout.headUnderWay();
    }

    /** Closes once what was written before is on the wire. */
    private void closeAfterWrites() {
        ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }

    private void releaseQueued() {
        if (queued != null) {
            Object msg;
            while ((msg = queued.poll()) != null) {
                ReferenceCountUtil.release(msg);
            }
        }
    }
}

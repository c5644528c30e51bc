package io.outrigger.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.outrigger.SidecarContext;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.Endpoint;
import io.outrigger.metrics.ProxyMetrics;
import io.outrigger.resilience.CircuitBreaker;
import io.outrigger.trace.TraceParent;
import io.outrigger.upstream.OutOfDescriptors;
import io.outrigger.upstream.OutOfMemory;
import io.outrigger.upstream.UpstreamHandler;
import io.outrigger.upstream.UpstreamListener;

import java.net.ConnectException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One request through the proxy: trace headers, instance choice, attempts with retries and
 * breakers, and the relay of the answer, all on the client connection's event loop. Each attempt
 * is judged by its instance's breaker; the request as a whole, once it is answered, by the
 * service's breaker, so that one instance failing the requests in flight to it (killed under load)
 * cannot open the breaker of a service whose other instances answer their retries.
 *
 * <pre>
 *   request head -> ForwardedRequest -> [buffer small body] -> attempt: pick -> breakers -> pool -> upstream
 *        ^                                                           |  fails, replayable: backoff, next instance
 *        +------------ response head + body, streamed back <---------+
 * </pre>
 *
 * <p>A request whose body is known to fit in {@code http.retry_buffer_bytes} (default 64 KiB)
 * is received whole first and can be replayed: the exchange keeps the body in a
 * {@link RequestBodyBuffer} and hands each attempt a {@code retainedDuplicate()}. A chunked body
 * is never held back (it may be an interactive stream): it streams to the first attempt as it
 * comes, while the exchange keeps a copy of its bytes up to that limit; once its last chunk came
 * with the copy within the limit, a later attempt sends the head again with the copy, chunked, and
 * the trailer section the first attempt sent. A copy that outgrows the limit is released at once.
 * Larger bodies, and chunked ones whose copy outgrew the limit or whose attempt failed before
 * their end, are never retried, except after a connect failure when the client sent
 * {@code Expect: 100-continue}: its {@code 100 Continue} waits for an open connection, so no body
 * byte was sent yet. Retry rules: connect failure and reset always, 502/503/504
 * and read timeouts (no response head within {@code resilience.timeouts.read_ms}, when set)
 * only for idempotent methods, never once a response byte went to the client, within
 * {@code resilience.retry.max_retries}, the retry budget and the request deadline
 * ({@code resilience.timeouts.request_ms}, counted from the end of the request body).
 *
 * <p>Not thread-safe: confined to the client connection's event loop.
 */
final class ProxyExchange implements UpstreamListener, ChannelFutureListener {
    static final AsciiString X_REQUEST_ID = AsciiString.cached("x-request-id");
    static final AsciiString TRACEPARENT = AsciiString.cached(TraceParent.HEADER);
    /** The service label of requests that named none, or one not in the registry (labels stay bounded, and cannot be null). */
    static final String UNKNOWN_SERVICE = ProxyMetrics.UNKNOWN_SERVICE;
    /** How often one attempt picks again when the picked instance's breaker refuses its permit (see {@link #startAttempt}). */
    private static final int PICKS_PER_ATTEMPT = 4;

    private final HttpProxyHandler conn;
    private final ChannelHandlerContext ctx;
    private final SidecarContext context;
    private final HttpRequest request;
    private final long startNanos;

    private String service;
    /** Whether {@code service} is in the registry: only then is it a metrics label (callers choose Host names freely). */
    private boolean knownService;
    private String method;
    private String path;
    private CharSequence requestId;
    private CharSequence traceId;
    private CharSequence traceparent;
    private boolean idempotent;
    private boolean headRequest;
    private boolean clientKeepAlive;
    private boolean http10;

    private boolean buffered;
    /** The body comes chunked: it streams, and a copy of it is kept for a replay while it fits the retry buffer. */
    private boolean chunked;
    /** The request's {@code Content-Length}, -1 when it has none: what a kept body's buffer may grow to. */
    private long contentLength = -1;
    /** An upstream's 1xx answer was passed on: no retry, since part of this attempt's response reached the caller. */
    private boolean interimRelayed;
    /** The body held: kept whole for replay, or streamed pieces waiting for a connection; null until there is one. */
    private RequestBodyBuffer body;
    private boolean requestComplete;
    private boolean requestSent;

    private int attempts;
    /** Whether the exchange holds a retry of the budget: one at a time, from a retry's start to its end. */
    private boolean holdsRetry;
    /** What the last failed attempt would be answered with, should no further attempt be possible. */
    private ProxyError lastError;
    private List<Endpoint> tried;
    private Endpoint endpoint;
    private CircuitBreaker serviceBreaker;
    private CircuitBreaker instanceBreaker;
    /** The exchange's permit from the service's breaker, taken by its first attempt; meaningful while {@code servicePermitHeld}. */
    private long servicePermit;
    /** The service's breaker is owed a verdict on this exchange (or its permit back). */
    private boolean servicePermitHeld;
    /** The current attempt's permit from its instance's breaker, given back when it ends with no verdict. */
    private long instancePermit;
    private boolean attemptOpen;
    /**
     * The current attempt went out on a kept-alive connection from the pool, and has not been moved to a
     * new connection yet: one the instance closes before answering was most likely closed as it was reused.
     */
    private boolean reusedConnection;
    /**
     * The exchange already went again on a new connection once: a request that makes the instance close every
     * connection it arrives on (a request of death) is then sent once per attempt, not twice.
     */
    private boolean resent;
    private Channel upstream;
    /** The last handler of {@code upstream}, found once per lease. */
    private UpstreamHandler upstreamHandler;
    private ChannelFuture connecting;
    /** When the request deadline passes (executor ticker); meaningful while {@code deadlineArmed}. */
    private long deadlineNanos;
    private boolean deadlineArmed;
    private ScheduledFuture<?> retryTimer;
    private long retryDelayMillis;
    /** The current attempt's wait for its response head ({@code resilience.timeouts.read_ms}); null when none runs. */
    private ScheduledFuture<?> readTimer;

    private boolean responseStarted;
    /** The client's answer ends with its connection (HTTP/1.0, no length): a cut must reset it, not close it. */
    private boolean closeDelimited;
    /** Part of the answer came from the instance since {@link #waitsOnUpstream} last looked. */
    private boolean responseMoved;
    private boolean responseComplete;
    private boolean skippingInformational;
    private boolean upstreamKeepAlive;
    private int status;
    private boolean done;
    /** The client asked for {@code 100 Continue} before its body, and it has not been sent. */
    private boolean continueOwed;
    /** The sidecar closed the client connection because the rest of the request did not come. */
    private boolean clientStalled;
    /** The client's answer is under way and ends with the connection (HTTP/1.0, no length): only a reset can cut it. */
    boolean endsWithTheConnection() {
        return closeDelimited && !responseComplete;
    }

    /**
     * A response head not written yet: when the whole response came in one read (the common
     * small answer), head and body go out as one message, encoded into one buffer.
     */
    private HttpResponse heldHead;

    ProxyExchange(HttpProxyHandler conn, HttpRequest request) {
        this.conn = conn;
        this.ctx = conn.ctx;
        this.context = conn.context;
        this.request = request;
        this.startNanos = System.nanoTime();
    }

    boolean requestComplete() {
        return requestComplete;
    }

    /** Whether the response head went out (or is on its way): its {@code Connection} header is settled. */
    boolean responseStarted() {
        return responseStarted;
    }

    /** Prepares the request and either answers an error at once or starts (or waits for the body to start) the first attempt. */
    void start() {
        context.retryBudget().onRequestStart();
        HttpMethod m = request.method();
        method = m.name();
        idempotent = m == HttpMethod.GET || m == HttpMethod.HEAD || m == HttpMethod.PUT || m == HttpMethod.DELETE
                || m == HttpMethod.OPTIONS || m == HttpMethod.TRACE;
        headRequest = m == HttpMethod.HEAD;
        http10 = request.protocolVersion() == HttpVersion.HTTP_1_0;
        clientKeepAlive = HttpUtil.isKeepAlive(request);
        chunked = HttpUtil.isTransferEncodingChunked(request);
        contentLength = HttpUtil.getContentLength(request, -1L);
        ProxyError refused = RequestChecks.problem(request, chunked); // before service() rewrites an absolute form
        boolean expectContinue = HttpUtil.is100ContinueExpected(request);
        continueOwed = expectContinue && (chunked || contentLength > 0)
                && !(request instanceof LastHttpContent);
        service = conn.route.service(request);
        path = request.uri();

        RequestTrace trace = RequestTrace.of(request.headers()); // read before the hop-by-hop strip: the caller's ids count even if it named them
        requestId = trace.requestId();
        traceId = trace.traceId();
        traceparent = trace.traceparent();

        SidecarConfig.Http limits = context.config().http();
        buffered = !chunked && contentLength <= limits.retryBufferBytes();
        if (refused != null) {
            sendError(refused);
            return;
        }
        long hopsLeft = MaxForwards.of(request);
        if (hopsLeft == 0) {
            knownService = service != null && conn.route.knows(service); // counted under the service it named, as if forwarded
            answer(MaxForwards.answer(ctx.alloc(), request), false); // the last hop: the sidecar answers as the final recipient
            return;
        }
        if (service == null) {
            sendError(ProxyError.MISSING_HOST);
            return;
        }
        if (!conn.route.knows(service)) {
            // Not in a registry that has not answered yet is no proof of absence: a 404 would read as final.
            sendError(context.registry().ready().isDone() ? ProxyError.UNKNOWN_SERVICE : ProxyError.REGISTRY_NOT_READY);
            return;
        }
        knownService = true;

        conn.route.fillHost(request);
        ForwardedRequest.rewrite(request, trace, hopsLeft, chunked, conn.remoteIp, conn.route.via(request.protocolVersion()));
        if (!buffered) {
            // A body to stream is asked for only once an instance's connection is open (onConnected): until
            // then the client sends none, so a refused connection can be retried on another instance.
            startAttempt();
        } else if (expectContinue) {
            // The client waits for this before it sends the body we keep.
            sendContinue();
        }
    }

    /** A piece of the request body from the client; the exchange owns it. */
    void onRequestContent(HttpContent content) {
        boolean last = content instanceof LastHttpContent;
        if (responseComplete || done) {
            content.release(); // already answered: drain the rest of the body
            if (last) {
                requestComplete = true;
                finishIfOver();
            }
            return;
        }
        if (buffered) {
            ByteBuf data = content.content();
            if (data.isReadable()) {
                if (body == null) {
                    // Allocated as the body comes, not for its declared length: a head that stalls holds no buffer.
                    body = RequestBodyBuffer.whole(ctx.alloc(), data, contentLength);
                } else {
                    body.append(data);
                }
            }
            content.release();
            if (last) {
                requestComplete = true;
                armDeadline();
                if (!responseStarted) {
                    startAttempt();
                }
            }
            return;
        }
        if (last) {
            requestComplete = true;
            armDeadline();
            HttpHeaders trailers = ((LastHttpContent) content).trailingHeaders();
            HopByHopHeaders.strip(trailers); // a trailer section is per hop too
            RequestTrace.dropFromTrailers(trailers);
        }
        if (chunked) {
            if (body == null) {
                body = replayMayCome() ? RequestBodyBuffer.copied(ctx.alloc(), context.config().http().retryBufferBytes())
                        : RequestBodyBuffer.streamed();
            }
            body.copy(content); // before the piece goes on: a copy of its bytes, for a replay (none once the answer began)
        }
        if (upstream != null) {
            upstream.write(content, upstream.voidPromise());
            if (last) {
                onRequestSent();
            }
        } else {
            if (body == null) {
                body = RequestBodyBuffer.streamed();
            }
            body.queue(content);
        }
    }

    /** Whether the client may send more now: body we buffer, or body the upstream can absorb. */
    boolean wantsRequestData() {
        if (requestComplete) {
            return false;
        }
        if (responseComplete || buffered) {
            return true;
        }
        return upstream != null && upstream.isWritable();
    }

    /**
     * Whether the rest of the request waits on an instance that takes none of it (its connection not
     * writable) and has not begun to answer either, or whose answer has not moved since the last call
     * although the client could take more. One that streams its answer meanwhile is alive: a download is
     * not cut because the instance leaves the rest of the upload unread.
     */
    boolean waitsOnUpstream() {
        if (requestComplete || buffered || upstream == null || upstream.isWritable()) {
            return false;
        }
        if (!responseStarted) {
            return true;
        }
        // Asked once per idle period: an answer that has not moved since the last time, while the client could take
        // more, has stalled as well, and nothing else would end the exchange (the deadline waits for the body's end).
        boolean moved = responseMoved || !ctx.channel().isWritable();
        responseMoved = false;
        return !moved;
    }

    /**
     * The instance took none of the request body for {@code http.idle_timeout_ms}, so the client could send
     * none: a timeout, as when the deadline (which only starts at the body's end) runs out.
     */
    void upstreamStalled() {
        onDeadline();
    }

    /** End of a client read burst: pushes streamed body to the upstream. */
    void flushUpstream() {
        if (upstream != null && !buffered) {
            upstream.flush();
        }
    }

    /** Starts the request deadline; the connection's one deadline timer (no timer per request) calls {@link #checkDeadline}. */
    private void armDeadline() {
        if (!deadlineArmed && !done) {
            long timeout = TimeUnit.MILLISECONDS.toNanos(context.config().resilience().timeouts().requestMillis());
            deadlineArmed = true;
            deadlineNanos = ctx.executor().ticker().nanoTime() + timeout;
            conn.armDeadlineTimer(timeout);
        }
    }

    /** The connection's deadline timer fired: times out this exchange, or re-arms the timer for what is left. */
    void checkDeadline() {
        if (!deadlineArmed || done || responseComplete) {
            return;
        }
        long left = deadlineNanos - ctx.executor().ticker().nanoTime();
        if (left > 0) {
            conn.armDeadlineTimer(left);
        } else {
            onDeadline();
        }
    }

    private void startAttempt() {
        retryTimer = null;
        if (done || responseStarted) {
            return;
        }
        if (!servicePermitHeld) {
            // One permit of the service's breaker for the whole exchange, its retries included: a half-open breaker's
            // probe is one request, and the breaker hears how that request ended (see judgeService).
            CircuitBreaker sb = conn.route.serviceBreaker(service);
            long sp = sb.acquirePermission();
            if (sp == CircuitBreaker.NO_PERMIT) {
                sendError(lastError != null ? lastError : ProxyError.BREAKER_OPEN);
                return;
            }
            serviceBreaker = sb;
            servicePermit = sp;
            servicePermitHeld = true;
        }
        Endpoint picked;
        CircuitBreaker ib;
        long ip;
        // An instance's breaker may refuse although the pick found it willing: another event loop took its last
        // half-open probe in between. That instance now reads as refusing, so the next pick passes it by; a few
        // rounds bound the loop should breakers keep changing under it.
        for (int round = 0; ; round++) {
            picked = conn.route.pick(service, tried == null ? List.of() : tried);
            if (picked == null) {
                // A retry that finds no instance left (its own failures may have opened the breakers) answers for the failure.
                sendError(lastError != null ? lastError : anyBreakerOpen() ? ProxyError.BREAKER_OPEN : ProxyError.NO_HEALTHY_INSTANCE);
                return;
            }
            ib = conn.route.instanceBreaker(service, picked);
            ip = ib.acquirePermission();
            if (ip != CircuitBreaker.NO_PERMIT) {
                break;
            }
            if (round == PICKS_PER_ATTEMPT - 1) {
                sendError(lastError != null ? lastError : ProxyError.BREAKER_OPEN);
                return;
            }
        }
        if (attempts > 0) {
            context.metrics().onRetry(conn.route.edge(), service); // counted when made, not when planned
        }
        instanceBreaker = ib;
        instancePermit = ip;
        endpoint = picked;
        attemptOpen = true;
        attempts++;
        if (tried == null) {
            tried = List.of(picked); // most exchanges make one attempt: a list to grow only for a retry
        } else {
            if (!(tried instanceof ArrayList)) {
                tried = new ArrayList<>(tried);
            }
            tried.add(picked);
        }
        Channel idle = conn.pools.pollIdle(ctx.channel().eventLoop(), picked);
        reusedConnection = idle != null;
        if (idle != null) {
            onConnected(idle);
        } else {
            connecting = conn.pools.connect(ctx.channel().eventLoop(), picked);
            connecting.addListener(this);
        }
    }

    private boolean anyBreakerOpen() {
        CircuitBreaker sb = context.breakers().find(service);
        if (sb != null && !sb.isCallPermitted()) {
            return true;
        }
        for (Endpoint e : context.registry().endpoints(service)) {
            CircuitBreaker b = context.breakers().findInstance(service, e);
            if (b != null && !b.isCallPermitted()) {
                return true;
            }
        }
        return false;
    }

    /** The connect of the current attempt finished. */
    @Override
    public void operationComplete(ChannelFuture f) {
        if (!ctx.executor().inEventLoop()) {
            // A socket that could not even be created (EMFILE): Netty fails that future on its global executor.
            ctx.executor().execute(() -> operationComplete(f));
            return;
        }
        if (f != connecting) {
            if (f.isSuccess()) {
                f.channel().close(); // an attempt given up while it connected
            }
            return;
        }
        connecting = null;
        if (done || responseStarted) {
            if (f.isSuccess()) {
                conn.pools.release(f.channel());
            }
            return;
        }
        if (f.isSuccess()) {
            onConnected(f.channel());
            return;
        }
        Throwable cause = f.cause();
        if (OutOfDescriptors.causedBy(cause)) {
            withdrawAttempt(); // the sidecar's own limit
            attemptFailed(ProxyError.OUT_OF_DESCRIPTORS, "", false);
            return;
        }
        boolean timedOut = cause instanceof ConnectTimeoutException;
        attemptFailed(timedOut ? ProxyError.UPSTREAM_TIMEOUT : ProxyError.UPSTREAM_REFUSED,
                timedOut ? "connect timeout" : cause instanceof ConnectException ? "connection refused" : "connect failed: " + cause,
                false);
    }

    private void onConnected(Channel ch) {
        upstream = ch;
        upstreamHandler = UpstreamHandler.of(ch);
        upstreamHandler.bind(this);
        if (buffered || (body != null && body.copiedWhole() && !body.hasWaiting())) {
            // Head and body as one message (sharing the request's headers): encoded into one buffer when small. A
            // chunked body copied whole goes again on a later attempt, chunked, with its trailer section (its pieces
            // still waiting, when its attempts found no connection yet, go as they came instead: none was sent).
            ch.write(new DefaultFullHttpRequest(request.protocolVersion(), request.method(), request.uri(),
                    body == null ? Unpooled.EMPTY_BUFFER : body.retainedWhole(), request.headers(),
                    body == null ? LastHttpContent.EMPTY_LAST_CONTENT.trailingHeaders() : body.trailers()), ch.voidPromise());
            onRequestSent();
            ch.flush();
            ch.read();
            return;
        }
        ch.write(request, ch.voidPromise());
        if (continueOwed) {
            sendContinue(); // the body has somewhere to go now
        }
        if (body != null) {
            HttpContent c;
            while ((c = body.poll()) != null) {
                boolean lastContent = c instanceof LastHttpContent;
                ch.write(c, ch.voidPromise());
                if (lastContent) {
                    onRequestSent();
                }
            }
        }
        ch.flush();
        ch.read();
        conn.updateClientRead();
    }

    private void sendContinue() {
        continueOwed = false;
        ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE, Unpooled.EMPTY_BUFFER));
    }

    /** The whole request went to the current attempt's upstream: its wait for the response head starts. */
    private void onRequestSent() {
        requestSent = true;
        long readMillis = context.config().resilience().timeouts().readMillis();
        if (readMillis > 0 && !interimRelayed) { // an interim answer passed on, while the body streamed, ended the wait
            Channel attempt = upstream;
            readTimer = ctx.executor().schedule(() -> onReadTimeout(attempt), readMillis, TimeUnit.MILLISECONDS);
        }
    }

    /** The attempt on {@code attempt} sent no response head within {@code read_ms}: a failed attempt, retried like a 504. */
    private void onReadTimeout(Channel attempt) {
        readTimer = null;
        if (done || responseStarted || upstream != attempt) {
            return;
        }
        attemptFailed(ProxyError.UPSTREAM_TIMEOUT, "read timeout", true);
    }

    private void cancelReadTimer() {
        ScheduledFuture<?> t = readTimer;
        if (t != null) {
            readTimer = null;
            t.cancel(false);
        }
    }

    @Override
    public void onUpstreamRead(Object msg) {
        if (msg instanceof HttpResponse) {
            HttpResponse res = (HttpResponse) msg;
            if (res.decoderResult().isFailure()) {
                ReferenceCountUtil.release(msg);
                // The instance got the request and answered: like a 502, only an idempotent request may go to another.
                attemptFailed(ProxyError.UPSTREAM_BAD_RESPONSE, "malformed response: " + res.decoderResult().cause(), true);
                return;
            }
            int code = res.status().code();
            if (code < 100 || code > 599) {
                ReferenceCountUtil.release(msg); // not a status of RFC 9110 15 (three digits, classes 1 to 5)
                attemptFailed(ProxyError.UPSTREAM_BAD_RESPONSE, "status " + code + " outside 100-599", true);
                return;
            }
            if (code < 200) {
                ReferenceCountUtil.release(msg);
                if (code == 101) {
                    // Upgrade is hop-by-hop and never forwarded: a switch nobody asked for leaves the connection unusable.
                    attemptFailed(ProxyError.UPSTREAM_BAD_RESPONSE, "unrequested 101 Switching Protocols", true);
                    return;
                }
                skippingInformational = true; // until the interim answer's (empty) end
                relayInformational(res, code);
                return;
            }
            // Before the retry of a 5xx below, so one answer is weighed for a retry once (a refused retry counts against the budget's metric).
            if (res.headers().contains(HttpHeaderNames.TRANSFER_ENCODING) && !HopByHopHeaders.onlyChunked(res.headers())) {
                ReferenceCountUtil.release(msg); // a coding the sidecar would drop while re-framing the body
                // The instance did answer, so only an idempotent request may try another one.
                attemptFailed(ProxyError.UPSTREAM_BAD_RESPONSE, "unsupported transfer coding: " + res.headers().get(HttpHeaderNames.TRANSFER_ENCODING),
                        true);
                return;
            }
            if (code == 502 || code == 503 || code == 504) {
                reportOutcome(false, "status " + code); // first, so a breaker this answer opens stops the retry
                if (takeRetry(true)) {
                    ReferenceCountUtil.release(msg);
                    releaseUpstream(false);
                    retry();
                    return;
                }
            }
            // The outcome is reported when the response has come in whole: an instance that breaks off
            // its responses half-way has failed them, whatever their status (see onUpstreamClosed).
            relayResponseHead(res, code);
            if (!(msg instanceof HttpContent)) {
                heldHead = res; // written with the body if that is in this read, else at the end of the read
                return;
            }
            // A whole response in one message: the content path below writes it, once.
        }
        if (!(msg instanceof HttpContent)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        HttpContent content = (HttpContent) msg;
        boolean last = content instanceof LastHttpContent;
        if (skippingInformational || !responseStarted || responseComplete) {
            content.release();
            if (last) {
                skippingInformational = false;
            }
            return;
        }
        if (content.decoderResult().isFailure()) {
            content.release();
            reportOutcome(false, "malformed response body");
            abort(ProxyError.UPSTREAM_BAD_RESPONSE);
            return;
        }
        if (!last) {
            responseMoved = true;
            writeHeldHead();
            ctx.write(content, ctx.voidPromise());
            return;
        }
        responseComplete = true;
        reportOutcome(status < 500, status < 500 ? null : "status " + status);
        judgeService(status < 500);
        HopByHopHeaders.strip(((LastHttpContent) content).trailingHeaders()); // a trailer section is per hop too
        RequestTrace.dropFromTrailers(((LastHttpContent) content).trailingHeaders());
        boolean close = conn.closing || !requestComplete;
        conn.closing = close;
        Object out = content;
        HttpResponse head = heldHead;
        if (head != null) {
            heldHead = null;
            out = new DefaultFullHttpResponse(head.protocolVersion(), head.status(), content.content(), head.headers(),
                    ((LastHttpContent) content).trailingHeaders());
        }
        if (close) {
            ctx.writeAndFlush(out).addListener(LingeringClose.after(requestComplete));
        } else {
            ctx.writeAndFlush(out, ctx.voidPromise()); // no outcome to wait for: no promise per response
        }
        releaseUpstream(upstreamKeepAlive && requestSent);
        complete();
    }

    /**
     * Passes an interim answer such as {@code 103 Early Hints} on (RFC 9110 15.2: a proxy forwards
     * 1xx answers it did not ask for), except {@code 100 Continue}, which the sidecar gives a client
     * that expects it by itself, and except to an HTTP/1.0 client, which cannot take one.
     */
    private void relayInformational(HttpResponse res, int code) {
        if (code == 100 || http10) {
            return;
        }
        interimRelayed = true; // a response byte went out: this attempt's answer is the one the caller gets
        // read_ms is there to try another instance; none can be tried now, and the instance has answered (a 102 says
        // it is still at work): request_ms alone bounds the rest, or the caller would get a 504 after the 1xx.
        cancelReadTimer();
        HttpHeaders h = res.headers();
        HopByHopHeaders.strip(h);
        h.add(HttpHeaderNames.VIA, conn.route.via());
        ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, ReasonPhrase.clean(res.status()), Unpooled.EMPTY_BUFFER,
                h, EmptyHttpHeaders.INSTANCE), ctx.voidPromise());
    }

    private void relayResponseHead(HttpResponse res, int code) {
        responseStarted = true;
        responseMoved = true;
        if (body != null) {
            body.dropReplay(); // no attempt follows an answer that began: the body kept for one need not wait for the answer's end
        }
        cancelReadTimer();
        res.setStatus(ReasonPhrase.clean(res.status()));
        status = code;
        upstreamKeepAlive = HttpUtil.isKeepAlive(res);
        boolean hasLength = HttpUtil.isContentLengthSet(res);
        HttpHeaders h = res.headers();
        HopByHopHeaders.strip(h);
        ForwardedRequest.plainContentLength(res);
        boolean empty = headRequest || code == 204 || code == 304;
        // An answer before the whole request arrived ends the connection (the rest of the body is not read
        // for a next request): say so in the head, so the client does not send on into a closing socket.
        boolean close = !clientKeepAlive || conn.closing || !requestComplete;
        if (!empty && !hasLength) {
            if (http10) {
                close = true; // an HTTP/1.0 client only knows close-delimited bodies
                closeDelimited = true;
            } else {
                HttpUtil.setTransferEncodingChunked(res, true);
            }
        }
        if (close) {
            conn.closing = true;
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        } else if (http10) {
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        }
        h.set(X_REQUEST_ID, requestId);
        h.set(TRACEPARENT, traceparent);
        h.add(HttpHeaderNames.VIA, conn.route.via(res.protocolVersion())); // RFC 9110 7.6.3: on every message forwarded, responses too
        res.setProtocolVersion(HttpVersion.HTTP_1_1);
    }

    /** Writes a response head held back for its body. */
    private void writeHeldHead() {
        HttpResponse head = heldHead;
        if (head != null) {
            heldHead = null;
            ctx.write(head, ctx.voidPromise());
        }
    }

    @Override
    public void onUpstreamReadComplete() {
        if (done && responseComplete) {
            return;
        }
        writeHeldHead();
        ctx.flush();
        if (upstream != null && !responseComplete && ctx.channel().isWritable()) {
            upstream.read();
        }
    }

    /**
     * The client can take more response: read on from the upstream. Interim answers (1xx) fill the
     * client's connection too, so this holds before the final answer has begun as well.
     */
    void onClientWritable() {
        if (upstream != null && !responseComplete) {
            upstream.read();
        }
    }

    @Override
    public void onUpstreamWritabilityChanged(boolean writable) {
        if (writable && !requestComplete) {
            conn.updateClientRead();
        }
    }

    @Override
    public void onUpstreamClosed(Throwable cause) {
        upstream = null;
        upstreamHandler = null;
        if (done || responseComplete) {
            return;
        }
        if (OutOfMemory.causedBy(cause)) {
            // The sidecar could not allocate a buffer to read or write this connection: its own shortage, not the instance's.
            withdrawAttempt();
            attemptFailed(ProxyError.OUT_OF_MEMORY, "", false); // closes the client connection if the answer had begun
            return;
        }
        if (responseStarted) {
            reportOutcome(false, "closed mid-response");
            abort(ProxyError.UPSTREAM_RESET);
            return;
        }
        if (reusedConnection && !resent && idempotent && replayable() && !interimRelayed) {
            // A kept-alive connection the instance closed (its idle timeout, say) as the request went out on it:
            // no verdict on the instance, and no retry. The attempt goes on a new connection, once per exchange;
            // only for an idempotent request, which RFC 9112 9.3.1 lets a client send again after a connection
            // closed under it.
            reusedConnection = false;
            resent = true;
            cancelReadTimer();
            skippingInformational = false;
            connecting = conn.pools.connect(ctx.channel().eventLoop(), endpoint);
            connecting.addListener(this);
            return;
        }
        // Retried on the outbound edge whatever the method. The inbound edge leaves a new connection's to the caller's
        // sidecar, as a 5xx (the app took the connection, then dropped the request); a kept-alive one may have been
        // closed by the app's idle timeout as the request went out, and goes again.
        attemptFailed(ProxyError.UPSTREAM_RESET, cause == null ? "connection closed" : "reset: " + cause.getMessage(),
                !conn.route.retriesAnswers() && !reusedConnection);
    }

    /**
     * Ends the current attempt with no verdict on the upstream (the sidecar's own limit failed it): its
     * instance's breaker gets its permission back, its health is untouched. The service's breaker waits for
     * the exchange's end, which the caller's error decides ({@link #judgeService}).
     */
    private void withdrawAttempt() {
        if (attemptOpen) {
            attemptOpen = false;
            instanceBreaker.releasePermission(instancePermit);
        }
    }

    /**
     * The service's breaker hears how the exchange ended, once: a failure when the caller gets an error the
     * service caused (its instances refused, reset, timed out or answered badly after every attempt allowed,
     * or their breakers were all open, unless this exchange holds a half-open breaker's probe), else no
     * verdict and its permit back (the client left, the sidecar's own limit, no healthy instance to try). A relayed answer is judged by its status ({@link #judgeService(boolean)}).
     */
    private void judgeService(ProxyError error) {
        switch (error) {
            case UPSTREAM_REFUSED, UPSTREAM_RESET, UPSTREAM_TIMEOUT, UPSTREAM_BAD_RESPONSE -> judgeService(false);
            // No attempt made (every instance's breaker refused it): a half-open breaker's probe probed nothing and
            // goes back, or the first request an instance could take would be refused for another open_ms.
            case BREAKER_OPEN -> {
                if (servicePermitHeld && CircuitBreaker.isProbe(servicePermit)) {
                    releaseService();
                } else {
                    judgeService(false);
                }
            }
            default -> releaseService();
        }
    }

    private void judgeService(boolean success) {
        if (servicePermitHeld) {
            servicePermitHeld = false;
            if (success) {
                serviceBreaker.onSuccess();
            } else {
                serviceBreaker.onFailure();
            }
        }
    }

    /** No verdict on the service: a half-open breaker's probe taken by this exchange goes back. */
    private void releaseService() {
        if (servicePermitHeld) {
            servicePermitHeld = false;
            serviceBreaker.releasePermission(servicePermit);
        }
    }

    /** The current attempt failed before any response byte went out: report it, then retry or answer. */
    private void attemptFailed(ProxyError error, String cause, boolean idempotentOnly) {
        reportOutcome(false, cause);
        lastError = error;
        releaseUpstream(false);
        if (done) {
            return;
        }
        if (responseStarted) {
            abort(error);
        } else if (takeRetry(idempotentOnly)) {
            retry();
        } else {
            sendError(error);
        }
    }

    /**
     * Takes one more attempt if the retry rules, the deadline and the retry budget allow it, and
     * works out its backoff delay; false changes nothing.
     */
    private boolean takeRetry(boolean idempotentOnly) {
        SidecarConfig.Retry r = context.config().resilience().retry();
        if (!replayable() || responseStarted || interimRelayed || done
                || (idempotentOnly && (!idempotent || !conn.route.retriesAnswers()))
                || attempts > r.maxRetries()) {
            return false;
        }
        long delay = context.backoff().nextDelayMillis(attempts);
        long remainingMillis = !deadlineArmed ? Long.MAX_VALUE
                : TimeUnit.NANOSECONDS.toMillis(deadlineNanos - ctx.executor().ticker().nanoTime());
        if (delay < 0 || delay >= remainingMillis) {
            return false;
        }
        if (!conn.route.breakersAllowRetry(service)) {
            return false; // the breaker a retry needs opened (on this request's failures, maybe): waiting the backoff is pointless
        }
        // The budget bounds retries in flight: the one this request held has just ended with its failed attempt.
        if (holdsRetry) {
            holdsRetry = false;
            context.retryBudget().releaseRetry();
        }
        if (!context.retryBudget().tryAcquireRetry()) {
            context.metrics().onRetryBudgetExhausted(conn.route.edge(), service);
            return false;
        }
        holdsRetry = true;
        retryDelayMillis = delay;
        return true;
    }

    /**
     * Whether a chunked body's copy could ever be sent: a retry needs {@code max_retries} above 0, and the one resend
     * without a retry (a kept-alive connection closed under the request) an idempotent method.
     */
    private boolean replayMayCome() {
        return idempotent || context.config().resilience().retry().maxRetries() > 0;
    }

    /**
     * Whether the request can be sent again: its whole body is kept, or its chunked body came to its end
     * with a copy kept whole, or it has a body to stream that its client still holds back for the
     * {@code 100 Continue} not sent yet (no attempt got a connection).
     */
    private boolean replayable() {
        return buffered ? requestComplete
                : (body != null && body.copiedWhole()) || (continueOwed && (body == null || !body.hasWaiting()));
    }

    private void retry() {
        if (retryDelayMillis == 0) {
            startAttempt();
        } else {
            retryTimer = ctx.executor().schedule(this::startAttempt, retryDelayMillis, TimeUnit.MILLISECONDS);
        }
    }

    private void reportOutcome(boolean success, String cause) {
        if (!attemptOpen) {
            return;
        }
        attemptOpen = false;
        if (success) {
            instanceBreaker.onSuccess();
            context.health().onSuccess(service, endpoint);
        } else {
            instanceBreaker.onFailure();
            context.health().onFailure(service, endpoint, cause);
        }
    }

    private void releaseUpstream(boolean reusable) {
        cancelReadTimer();
        ChannelFuture c = connecting;
        if (c != null) {
            connecting = null;
            // Unregistered: no socket was made (EMFILE), and closing Netty's stand-in channel throws.
            if (c.channel().isRegistered()) {
                c.channel().close();
            }
        }
        Channel ch = upstream;
        if (ch == null) {
            return;
        }
        upstream = null;
        upstreamHandler.unbind();
        upstreamHandler = null;
        if (reusable) {
            conn.pools.release(ch);
        } else {
            ch.close();
        }
    }

    private void onDeadline() {
        deadlineArmed = false;
        if (done || responseComplete) {
            return;
        }
        if (retryTimer != null) {
            retryTimer.cancel(false);
            retryTimer = null;
        }
        reportOutcome(false, "timeout");
        releaseUpstream(false);
        if (responseStarted) {
            abort(ProxyError.UPSTREAM_TIMEOUT);
        } else {
            sendError(ProxyError.UPSTREAM_TIMEOUT);
        }
    }

    /** The guard rejected the rest of the request (body too large): answer if nothing went out yet, and close. */
    void reject(ProxyError error) {
        conn.closing = true;
        if (done || responseComplete) {
            ctx.close();
            return;
        }
        withdrawAttempt(); // the sidecar's own limit: no verdict on the instance, a half-open breaker's probe goes back
        releaseUpstream(false);
        if (responseStarted) {
            abort(error);
        } else {
            sendError(error);
        }
    }

    /** Answers the client with a sidecar-made error. */
    private void sendError(ProxyError error) {
        if (responseStarted) {
            abort(error);
            return;
        }
        judgeService(error);
        answer(HttpErrors.response(ctx.alloc(), error, service, false), error.closesConnection());
    }

    /** Answers the client with a response the sidecar made, before any response byte went out. */
    private void answer(FullHttpResponse res, boolean mustClose) {
        releaseUpstream(false);
        // A client still waiting for its 100 Continue may never send the body this connection would have to
        // read past; one that sends its next request instead would have it taken for body. Close instead.
        boolean close = conn.closing || mustClose || !clientKeepAlive || (!requestComplete && (!buffered || continueOwed));
        conn.closing = close;
        if (close) {
            res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        } else if (http10) {
            // As on relayed answers: an HTTP/1.0 client keeps the connection only when told so, else it waits for the close.
            res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        }
        res.headers().set(X_REQUEST_ID, requestId).set(TRACEPARENT, traceparent);
        responseStarted = true;
        responseComplete = true;
        status = res.status().code();
        ChannelFuture written = ctx.writeAndFlush(res);
        if (close) {
            written.addListener(LingeringClose.after(requestComplete));
        }
        complete();
    }

    /**
     * The client sent nothing of the rest of its request for {@code http.idle_timeout_ms}: the
     * connection is closed, and the exchange logged as {@code 408} (unless an answer went out).
     */
    void clientStalled() {
        clientStalled = true;
        ctx.close();
    }

    /**
     * The client connection went away, or the sidecar closed it ({@code cutBySidecar}: its shutdown, or
     * no memory left for the connection): drop the upstream side without blaming it.
     */
    void clientGone(boolean cutBySidecar) {
        if (done) {
            return;
        }
        withdrawAttempt(); // no verdict on the upstream: a half-open breaker's probe goes back, so the next call probes at once
        releaseUpstream(false);
        if (!responseComplete) {
            // As nginx logs a client body timeout and a client that closed, and Envoy a request its own shutdown
            // or overload manager reset.
            status = cutBySidecar ? 503 : clientStalled ? 408 : 499;
        }
        responseComplete = true;
        requestComplete = true;
        complete();
    }

    /**
     * A response already under way cannot be completed: close the client connection. The exchange is logged
     * and counted with the status of {@code cause}, not the instance's status line the client got (as a cut by
     * the sidecar's drain is a 503 and a client that left a 499): a download the instance broke off is a 502.
     */
    private void abort(ProxyError cause) {
        judgeService(cause);
        status = cause.status().code();
        if (heldHead != null) {
            writeHeldHead();
        }
        ctx.flush(); // what the client already had coming (written in this read, not flushed yet), then the close
        releaseUpstream(false);
        conn.closing = true;
        responseComplete = true;
        if (closeDelimited && ctx.channel().isActive()) {
            // A FIN would end a body framed by the close as if whole: the client must read an error instead.
            ctx.channel().config().setOption(ChannelOption.SO_LINGER, 0);
            ctx.close();
        } else {
            // The cut shows in the framing (a length or chunks not met), so the connection may end with a FIN once
            // what went before is on the wire: earlier pipelined answers, whole and logged as sent. Closed at once, with
            // those still buffered and the client's next requests unread, the connection would be reset and they lost.
            ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(LingeringClose.INSTANCE);
        }
        complete();
    }

    /** The response is over (relayed, answered or abandoned): account for it and free what the exchange holds. */
    private void complete() {
        releaseService(); // an exchange that ended without a verdict on the service (its client left, say)
        deadlineArmed = false;
        if (retryTimer != null) {
            retryTimer.cancel(false);
            retryTimer = null;
        }
        if (body != null) {
            body.release();
            body = null;
        }
        if (holdsRetry) {
            holdsRetry = false;
            context.retryBudget().releaseRetry();
        }
        context.retryBudget().onRequestEnd();
        long nanos = System.nanoTime() - startNanos;
        String edge = conn.route.edge();
        context.metrics().onExchange(edge, knownService ? service : UNKNOWN_SERVICE, endpoint, status, attempts, nanos);
        AccessLog accessLog = conn.route.accessLog();
        if (accessLog != null) {
            accessLog.log(ctx.executor(), edge, traceId, requestId, method, path, service, endpoint, status, attempts, nanos);
        }
        done = true;
        finishIfOver();
    }

    private void finishIfOver() {
        if (done && (requestComplete || conn.closing)) {
            conn.exchangeDone(this);
        }
    }
}

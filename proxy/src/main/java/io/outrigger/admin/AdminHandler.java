package io.outrigger.admin;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.concurrent.EventExecutor;
import io.outrigger.Sidecar;
import io.outrigger.metrics.MicrometerProxyMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.Set;

/**
 * Answers the admin paths:
 * <pre>
 *   GET /ready     200 {"state":"ready"} | 503 {"state":"starting"|"draining"}
 *   GET /metrics   Prometheus text format (from {@link MicrometerProxyMetrics})
 *   GET /clusters  services, instances, health and breakers as JSON
 *   GET /config    the effective config and the bound ports as JSON
 * </pre>
 * An unknown path is 404, another method on a known path 405, a malformed request 400 (431 for a
 * header block over {@code http.max_header_bytes}, 414 for a request line over 4096 bytes, Netty's default: the
 * proxy listeners allow 8 KiB), a protocol other than
 * HTTP/1.x 505; error bodies are JSON {@code {"error": "..."}}. Each request is answered by its head;
 * a body is read and dropped.
 *
 * <p>Stateless and {@code @Sharable}. Reading requests happens on the event loop; building the
 * answers (a scrape, JSON) happens on the single admin thread, never on a data-plane event loop.
 */
@Sharable
final class AdminHandler extends SimpleChannelInboundHandler<HttpObject> {
    private static final Logger log = LoggerFactory.getLogger(AdminHandler.class);
    private static final Set<String> PATHS = Set.of("/ready", "/metrics", "/clusters", "/config");
    private static final String JSON = "application/json; charset=utf-8";
    private static final String MALFORMED_REQUEST_LINE = "malformed request line (expected: method, target and HTTP version, such as GET /ready HTTP/1.1)";

    private final Sidecar sidecar;
    private final AdminViews views;
    private final EventExecutor adminThread;

    /** @param adminThread one thread that builds and writes every answer, off the event loops */
    AdminHandler(Sidecar sidecar, EventExecutor adminThread) {
        this.sidecar = sidecar;
        this.views = new AdminViews(sidecar);
        this.adminThread = adminThread;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
        if (!(msg instanceof HttpRequest req)) {
            if (msg.decoderResult().isFailure()) {
                // A broken body after its head was answered: close once that answer is out (same queue, so after it).
                adminThread.execute(ctx::close);
            }
            return; // a body: nothing on the admin paths reads one
        }
        // Only what the answer needs is taken from the request here (it is released on return);
        // every answer is then built and written in order on the admin thread, so pipelined
        // requests are answered in the order they came.
        Throwable malformed = req.decoderResult().cause();
        // The decoder's stand-in for a request whose line it could not read; a bad header keeps the request it read.
        boolean badLine = malformed != null && req instanceof FullHttpRequest && !(malformed instanceof TooLongFrameException);
        boolean http1 = req.protocolVersion().majorVersion() == 1;
        boolean keepAlive = malformed == null && http1 && HttpUtil.isKeepAlive(req);
        // HTTP/1.0 keeps a connection only when told so (RFC 9112 9.3): without the header such a client waits for the close.
        boolean sayKeepAlive = keepAlive && !req.protocolVersion().isKeepAliveDefault();
        // RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request without Host, and to any with more than one.
        int hosts = req.headers().getAll(HttpHeaderNames.HOST).size();
        String hostProblem = malformed != null || !http1 ? null
                : hosts > 1 ? "more than one Host header"
                : hosts == 0 && req.protocolVersion().minorVersion() >= 1 ? "an HTTP/1.1 request needs a Host header" : null;
        HttpMethod method = req.method();
        String path = pathOf(req.uri());
        String version = req.protocolVersion().text();
        adminThread.execute(() -> {
            FullHttpResponse res;
            try {
                res = malformed instanceof TooLongHttpHeaderException
                        ? error(HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request headers too large: " + malformed.getMessage())
                        : malformed instanceof TooLongHttpLineException
                        // As on the proxy listeners: a target too long for the request line's limit is 414, not a malformed request.
                        ? error(HttpResponseStatus.REQUEST_URI_TOO_LONG, "request line too long: " + malformed.getMessage())
                        : badLine
                        // Netty's words are about its parser ("text is empty (possibly HTTP/0.9)"): say what is expected.
                        ? error(HttpResponseStatus.BAD_REQUEST, MALFORMED_REQUEST_LINE)
                        : malformed != null
                        ? error(HttpResponseStatus.BAD_REQUEST, "malformed request: " + malformed.getMessage())
                        : !http1
                        ? error(HttpResponseStatus.HTTP_VERSION_NOT_SUPPORTED, version + " not supported (expected: HTTP/1.1)")
                        : hostProblem != null
                        ? error(HttpResponseStatus.BAD_REQUEST, "malformed request: " + hostProblem)
                        : answer(method, path);
            } catch (RuntimeException e) {
                log.warn("admin {} failed", path, e);
                res = error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "admin " + path + " failed: " + e);
            }
            HttpUtil.setKeepAlive(res, keepAlive);
            if (sayKeepAlive) {
                res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
            }
            ChannelFuture written = ctx.writeAndFlush(res);
            if (!keepAlive) {
                written.addListener(ChannelFutureListener.CLOSE);
            }
        });
    }

    /**
     * The path of a request target, as sent: origin form or absolute form (RFC 9112 3.2.2: a server
     * accepts both), without query or fragment. Escapes of unreserved characters are decoded, as RFC 3986
     * 6.2.2.2 makes {@code /%72eady} the same path as {@code /ready}; no other escape is (the admin paths
     * hold none), and a bad escape is just a path that is not one of them.
     */
    static String pathOf(String uri) {
        int start = 0;
        int scheme = uri.indexOf("://");
        if (!uri.startsWith("/") && scheme > 0) {
            start = uri.indexOf('/', scheme + 3);
            if (start < 0) {
                return "/";
            }
        }
        int end = start;
        while (end < uri.length() && uri.charAt(end) != '?' && uri.charAt(end) != '#') {
            end++;
        }
        String path = uri.substring(start, end);
        return path.indexOf('%') < 0 ? path : decodeUnreserved(path);
    }

    /** {@code path} with every escape of an unreserved character (ALPHA, DIGIT, -, ., _, ~) decoded. */
    private static String decodeUnreserved(String path) {
        StringBuilder sb = new StringBuilder(path.length());
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            int hi = c == '%' && i + 2 < path.length() ? Character.digit(path.charAt(i + 1), 16) : -1;
            int lo = hi < 0 ? -1 : Character.digit(path.charAt(i + 2), 16);
            if (lo >= 0) {
                int v = hi << 4 | lo;
                if (v >= 'a' && v <= 'z' || v >= 'A' && v <= 'Z' || v >= '0' && v <= '9' || "-._~".indexOf(v) >= 0) {
                    sb.append((char) v);
                    i += 2;
                    continue;
                }
            }
            sb.append(c);
        }
        return sb.toString();
    }

    private FullHttpResponse answer(HttpMethod method, String path) {
        if (!PATHS.contains(path)) {
            return error(HttpResponseStatus.NOT_FOUND, "no admin path " + path + " (expected: /ready, /metrics, /clusters or /config)");
        }
        // HEAD as GET (RFC 9110 9.3.2): the server codec sends the head of the GET answer without its body.
        if (!HttpMethod.GET.equals(method) && !HttpMethod.HEAD.equals(method)) {
            FullHttpResponse res = error(HttpResponseStatus.METHOD_NOT_ALLOWED, "method " + method + " not allowed on " + path + " (expected: GET or HEAD)");
            res.headers().set(HttpHeaderNames.ALLOW, "GET, HEAD");
            return res;
        }
        switch (path) {
            case "/ready" -> {
                Sidecar.State state = sidecar.state();
                return response(state == Sidecar.State.READY ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE,
                        JSON, views.ready(state));
            }
            case "/metrics" -> {
                if (sidecar.context().metrics() instanceof MicrometerProxyMetrics m) {
                    return response(HttpResponseStatus.OK, m.contentType(), m.scrape());
                }
                return error(HttpResponseStatus.NOT_FOUND, "metrics are not recorded by this sidecar");
            }
            case "/clusters" -> {
                return response(HttpResponseStatus.OK, JSON, views.clusters());
            }
            default -> {
                return response(HttpResponseStatus.OK, JSON, views.config());
            }
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent) {
            ctx.close(); // nothing read for http.idle_timeout_ms: an idle keep-alive or a stalled request
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof java.io.IOException || cause instanceof DecoderException) {
            // A client that resets its connection (a scraper giving up on a slow answer) is normal traffic, as on the
            // other listeners: a WARN line for each would let any client fill the log. So is one that pipelines more
            // requests than the codec keeps unanswered (128), which fails the decoder (malformed requests do not:
            // they are answered 400).
            log.debug("admin connection {} closed: {}", ctx.channel().remoteAddress(), cause.toString());
        } else {
            log.warn("admin connection {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        }
        ctx.close();
    }

    private static FullHttpResponse error(HttpResponseStatus status, String message) {
        return response(status, JSON, AdminViews.error(message));
    }

    private static FullHttpResponse response(HttpResponseStatus status, String contentType, String body) {
        ByteBuf content = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
        res.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
        res.headers().set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE);
        return res;
    }
}

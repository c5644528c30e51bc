package io.outrigger.admin;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
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
 * An unknown path is 404, another method on a known path 405, a malformed request 400; error
 * bodies are JSON {@code {"error": "..."}}.
 *
 * <p>Stateless and {@code @Sharable}; runs on the admin thread, never on a data-plane event loop.
 */
@Sharable
final class AdminHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final Logger log = LoggerFactory.getLogger(AdminHandler.class);
    private static final Set<String> PATHS = Set.of("/ready", "/metrics", "/clusters", "/config");
    private static final String JSON = "application/json; charset=utf-8";

    private final Sidecar sidecar;
    private final AdminViews views;

    AdminHandler(Sidecar sidecar) {
        this.sidecar = sidecar;
        this.views = new AdminViews(sidecar);
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
        if (req.decoderResult().isFailure()) {
            Throwable cause = req.decoderResult().cause();
            send(ctx, req, HttpResponseStatus.BAD_REQUEST, JSON,
                    AdminViews.error("malformed request: " + (cause == null ? "unknown" : cause.getMessage())), true);
            return;
        }
        String path = new QueryStringDecoder(req.uri()).path();
        if (!PATHS.contains(path)) {
            send(ctx, req, HttpResponseStatus.NOT_FOUND, JSON, AdminViews.error("no admin path " + path
                    + " (expected: /ready, /metrics, /clusters or /config)"), false);
            return;
        }
        if (!HttpMethod.GET.equals(req.method())) {
            FullHttpResponse res = response(HttpResponseStatus.METHOD_NOT_ALLOWED, JSON,
                    AdminViews.error("method " + req.method() + " not allowed on " + path + " (expected: GET)"));
            res.headers().set(HttpHeaderNames.ALLOW, "GET");
            write(ctx, req, res, false);
            return;
        }
        switch (path) {
            case "/ready" -> {
                Sidecar.State state = sidecar.state();
                HttpResponseStatus status = state == Sidecar.State.READY ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE;
                send(ctx, req, status, JSON, views.ready(state), false);
            }
            case "/metrics" -> {
                if (sidecar.context().metrics() instanceof MicrometerProxyMetrics m) {
                    send(ctx, req, HttpResponseStatus.OK, m.contentType(), m.scrape(), false);
                } else {
                    send(ctx, req, HttpResponseStatus.NOT_FOUND, JSON, AdminViews.error("metrics are not recorded by this sidecar"), false);
                }
            }
            case "/clusters" -> send(ctx, req, HttpResponseStatus.OK, JSON, views.clusters(), false);
            default -> send(ctx, req, HttpResponseStatus.OK, JSON, views.config(), false);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.warn("admin connection {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }

    private static void send(ChannelHandlerContext ctx, FullHttpRequest req, HttpResponseStatus status,
                             String contentType, String body, boolean close) {
        write(ctx, req, response(status, contentType, body), close);
    }

    private static FullHttpResponse response(HttpResponseStatus status, String contentType, String body) {
        ByteBuf content = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
        res.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
        res.headers().set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE);
        return res;
    }

    private static void write(ChannelHandlerContext ctx, FullHttpRequest req, FullHttpResponse res, boolean close) {
        if (close) {
            HttpUtil.setKeepAlive(res, false);
            ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
        } else {
            // HttpServerKeepAliveHandler closes after the response when the request asked for it.
            HttpUtil.setKeepAlive(res, HttpUtil.isKeepAlive(req));
            ctx.writeAndFlush(res);
        }
    }
}

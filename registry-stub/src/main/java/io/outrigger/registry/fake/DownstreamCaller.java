package io.outrigger.registry.fake;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;

import java.io.IOException;
import java.net.URI;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Calls another service through the sidecar as an HTTP proxy: {@code GET http://SERVICE/PATH} in proxy form to
 * the sidecar's outbound port, with the trace headers of the incoming request. One connection per call, on the
 * caller's event loop; the answer is read whole (up to 4 MiB). Thread-safe.
 *
 * <pre>
 *   HttpClientCodec -> HttpObjectAggregator -> AnswerHandler (completes the promise with a retained response)
 * </pre>
 */
final class DownstreamCaller {
    /** The headers that carry a trace from one hop to the next. */
    static final List<String> TRACE_HEADERS = List.of("traceparent", "tracestate", "x-request-id");
    private static final int MAX_ANSWER_BYTES = 4 << 20;

    private final URI sidecar;
    private final long timeoutMillis;

    /** @param sidecar the sidecar's outbound listener, {@code http://host:port} */
    DownstreamCaller(URI sidecar, long timeoutMillis) {
        this.sidecar = sidecar;
        this.timeoutMillis = timeoutMillis;
    }

    URI sidecar() {
        return sidecar;
    }

    /** Calls {@code service} at {@code pathAndQuery}; the caller owns (and releases) the response. */
    Future<FullHttpResponse> call(EventLoop loop, String service, String pathAndQuery, HttpHeaders incoming) {
        Promise<FullHttpResponse> promise = loop.newPromise();
        int port = sidecar.getPort() > 0 ? sidecar.getPort() : 80;
        ChannelFuture connect = new Bootstrap().group(loop).channel(NioSocketChannel.class)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(timeoutMillis, Integer.MAX_VALUE))
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(MAX_ANSWER_BYTES), new AnswerHandler(promise));
                    }
                })
                .connect(sidecar.getHost(), port);
        Channel ch = connect.channel();
        ScheduledFuture<?> deadline = loop.schedule(
                () -> promise.tryFailure(new TimeoutException("no answer within " + timeoutMillis + " ms")),
                timeoutMillis, TimeUnit.MILLISECONDS);
        promise.addListener(f -> {
            deadline.cancel(false);
            ch.close();
        });
        connect.addListener((ChannelFuture f) -> {
            if (!f.isSuccess()) {
                promise.tryFailure(f.cause());
                return;
            }
            FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "http://" + service + pathAndQuery);
            req.headers().set(HttpHeaderNames.HOST, service).set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE)
                    .set(HttpHeaderNames.ACCEPT, HttpHeaderValues.APPLICATION_JSON);
            for (String h : TRACE_HEADERS) {
                String v = incoming.get(h);
                if (v != null) {
                    req.headers().set(h, v);
                }
            }
            ch.writeAndFlush(req).addListener(w -> {
                if (!w.isSuccess()) {
                    promise.tryFailure(w.cause());
                }
            });
        });
        return promise;
    }

    /** Hands the whole answer to the promise (retained: the promise's listener owns it). */
    private static final class AnswerHandler extends SimpleChannelInboundHandler<FullHttpResponse> {
        private final Promise<FullHttpResponse> promise;

        AnswerHandler(Promise<FullHttpResponse> promise) {
            this.promise = promise;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse res) {
            res.retain();
            if (!promise.trySuccess(res)) {
                res.release();
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            promise.tryFailure(new IOException("the sidecar closed the connection without an answer"));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            promise.tryFailure(cause);
            ctx.close();
        }
    }
}

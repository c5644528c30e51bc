package io.outrigger.discovery;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import io.outrigger.listener.Transports;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A minimal non-blocking HTTP/1.1 GET client for a Consul-style registry: one connection per
 * request ({@code Connection: close}), a deadline per request, the answer read whole.
 *
 * <pre>
 *   HttpClientCodec -> HttpObjectAggregator(16 MiB) -> ReplyHandler (completes the promise)
 * </pre>
 *
 * Thread-safe; every promise completes on the client's event loop.
 */
final class ConsulHttpClient {
    private static final int MAX_BODY_BYTES = 16 << 20;

    /** One answer: status, the {@code X-Consul-Index} header (0 when absent or malformed) and the body text. */
    record Reply(int status, long index, String body) {}

    private final String host;
    private final int port;
    private final EventLoop loop;
    private final Bootstrap bootstrap;

    ConsulHttpClient(String host, int port, EventLoop loop, Transports transport, long connectTimeoutMillis) {
        this.host = host;
        this.port = port;
        this.loop = loop;
        this.bootstrap = new Bootstrap().group(loop).channel(transport.clientChannel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, connectTimeoutMillis))
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(MAX_BODY_BYTES));
                    }
                });
    }

    /** GETs {@code pathAndQuery}; fails with a {@link TimeoutException} after {@code timeoutMillis}. */
    Future<Reply> get(String pathAndQuery, long timeoutMillis) {
        Promise<Reply> promise = loop.newPromise();
        ChannelFuture connect = bootstrap.connect(host, port);
        Channel ch = connect.channel();
        ScheduledFuture<?> deadline = loop.schedule(() -> {
            promise.tryFailure(new TimeoutException("no answer within " + timeoutMillis + " ms"));
        }, timeoutMillis, TimeUnit.MILLISECONDS);
        promise.addListener(f -> {
            deadline.cancel(false);
            ch.close();
        });
        connect.addListener((ChannelFuture f) -> {
            if (!f.isSuccess()) {
                promise.tryFailure(f.cause());
                return;
            }
            ch.pipeline().addLast(new ReplyHandler(promise));
            FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, pathAndQuery);
            req.headers().set(HttpHeaderNames.HOST, host + ':' + port)
                    .set(HttpHeaderNames.ACCEPT, HttpHeaderValues.APPLICATION_JSON)
                    .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            ch.writeAndFlush(req).addListener(w -> {
                if (!w.isSuccess()) {
                    promise.tryFailure(w.cause());
                }
            });
        });
        return promise;
    }

    /** Completes the promise with the first full response; a closed connection or error fails it. */
    private static final class ReplyHandler extends SimpleChannelInboundHandler<FullHttpResponse> {
        private final Promise<Reply> promise;

        ReplyHandler(Promise<Reply> promise) {
            this.promise = promise;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse res) {
            long index;
            try {
                index = Long.parseLong(res.headers().get("X-Consul-Index", "0"));
            } catch (NumberFormatException e) {
                index = 0;
            }
            promise.trySuccess(new Reply(res.status().code(), index, res.content().toString(StandardCharsets.UTF_8)));
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            promise.tryFailure(new IOException("connection closed before an answer"));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            promise.tryFailure(cause);
            ctx.close();
        }
    }
}

package io.outrigger.upstream;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import io.outrigger.listener.ReadBufferShortage;

import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One HTTP/1.1 exchange on a connection of its own ({@code Connection: close}), for control-plane
 * calls (registry queries, a fake service's downstream call), not for proxied traffic, which uses
 * the pooled upstream connections.
 *
 * <pre>
 *   HttpClientCodec -> BodyLimit(maxBodyBytes) -> AnswerHandler (completes the promise)
 * </pre>
 *
 * The returned future completes on {@code loop}: with the whole response, which its listener owns and
 * must release, or with the failure (connect error, closed connection, {@link TimeoutException} after
 * {@code timeoutMillis}). The request is always released. Thread-safe (stateless).
 */
public final class OneShotHttpClient {
    private OneShotHttpClient() {
    }

    /**
     * Sends {@code request} to {@code host:port}.
     *
     * @param connectTimeoutMillis how long the connect may take
     * @param timeoutMillis        how long the whole exchange may take, connect included
     * @param maxBodyBytes         the largest response body accepted
     */
    public static Future<FullHttpResponse> send(EventLoop loop, Class<? extends Channel> channelClass, String host, int port,
                                                FullHttpRequest request, long connectTimeoutMillis, long timeoutMillis,
                                                int maxBodyBytes) {
        return send(loop, channelClass, host, port, request, connectTimeoutMillis, timeoutMillis, maxBodyBytes, null);
    }

    /** As {@link #send(EventLoop, Class, String, int, FullHttpRequest, long, long, int)}, with the connection's allocator (tests), or null for the default. */
    static Future<FullHttpResponse> send(EventLoop loop, Class<? extends Channel> channelClass, String host, int port,
                                         FullHttpRequest request, long connectTimeoutMillis, long timeoutMillis,
                                         int maxBodyBytes, ByteBufAllocator allocator) {
        Promise<FullHttpResponse> promise = loop.newPromise();
        request.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        Bootstrap bootstrap = new Bootstrap().group(loop).channel(channelClass)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, connectTimeoutMillis))
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ReadBufferShortage.installOn(ch); // no memory for the answer: failed at once, not at timeoutMillis
                        ch.pipeline().addLast(new HttpClientCodec(), new BodyLimit(maxBodyBytes), new AnswerHandler(promise));
                    }
                });
        if (allocator != null) {
            bootstrap.option(ChannelOption.ALLOCATOR, allocator);
        }
        ChannelFuture connect = bootstrap.connect(host, port);
        Channel ch = connect.channel();
        ScheduledFuture<?> deadline = loop.schedule(
                () -> promise.tryFailure(new TimeoutException("no answer within " + timeoutMillis + " ms")),
                timeoutMillis, TimeUnit.MILLISECONDS);
        promise.addListener(f -> {
            deadline.cancel(false);
            if (ch.isRegistered()) { // unregistered: no socket was made (EMFILE), and closing Netty's stand-in channel throws
                ch.close();
            }
        });
        connect.addListener((ChannelFuture f) -> {
            if (!f.isSuccess()) {
                ReferenceCountUtil.release(request);
                promise.tryFailure(f.cause());
                return;
            }
            if (ch.eventLoop().isShuttingDown()) {
                // The loop is closing (its connect completed as io_uring drained its ring): a request written now
                // would be encoded into a buffer that no send, and so no release, ever follows.
                ReferenceCountUtil.release(request);
                promise.tryFailure(new IllegalStateException("the event loop is shutting down"));
                return;
            }
            ch.writeAndFlush(request).addListener(w -> {
                if (!w.isSuccess()) {
                    promise.tryFailure(w.cause());
                }
            });
        });
        return promise;
    }

    /**
     * Aggregates the answer up to {@code maxBodyBytes}; a larger one fails the call with one line that says so (Netty's
     * own exception prints the whole response head, several lines, into the registry's outage WARN).
     */
    private static final class BodyLimit extends HttpObjectAggregator {
        BodyLimit(int maxBodyBytes) {
            super(maxBodyBytes);
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
            ctx.close();
            String length = oversized.headers().get(HttpHeaderNames.CONTENT_LENGTH);
            throw new TooLongFrameException("an answer body over " + maxContentLength() + " bytes"
                    + (length == null ? "" : " (Content-Length: " + length + ")"));
        }
    }

    /** Hands the whole answer to the promise, retained for its listener; a closed connection or error fails it. */
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
            promise.tryFailure(new IOException("connection closed before an answer"));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            promise.tryFailure(cause);
            ctx.close();
        }
    }
}

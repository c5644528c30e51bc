package io.outrigger.registry.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small HTTP/1.1 server: one event loop group, one bound port, one request handler.
 *
 * <pre>
 *   HttpServerCodec -> PipeliningHandler -> [ReceivedHeaders] -> BodyLimit (aggregator, 1 MiB)
 *       -> HttpServerKeepAliveHandler -> RequestHandler
 * </pre>
 * Pipelined requests reach the handler one at a time, each once the one before it is answered.
 *
 * The handler must be {@code @Sharable}; it answers every request, errors included. Thread-safe; {@link #close()}
 * and {@link #drainAndClose} wait for the loops to stop.
 */
public final class HttpServer implements AutoCloseable {
    /** The largest request body accepted; larger ones get 413 from the aggregator. */
    public static final int MAX_REQUEST_BYTES = 1 << 20;
    /** The longest request line accepted (Netty's default); a longer one gets 414. */
    public static final int MAX_INITIAL_LINE_BYTES = 4096;
    /** The largest header block accepted (Netty's default); a larger one gets 431. */
    public static final int MAX_HEADER_BYTES = 8192;

    private final EventLoopGroup group;
    private final Channel channel;
    private final ChannelGroup connections;
    private final AtomicBoolean draining;
    private final AtomicInteger inFlight;

    private HttpServer(EventLoopGroup group, Channel channel, ChannelGroup connections, AtomicBoolean draining,
                       AtomicInteger inFlight) {
        this.group = group;
        this.channel = channel;
        this.connections = connections;
        this.draining = draining;
        this.inFlight = inFlight;
    }

    /**
     * Binds {@code host:port} (port 0 picks a free one); throws when the port cannot be bound.
     *
     * @param threads event loop threads, 0 for Netty's default
     */
    public static HttpServer bind(String name, String host, int port, int threads, RequestHandler handler) throws InterruptedException {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name, true), NioIoHandler.newFactory());
        ChannelGroup connections = new DefaultChannelGroup(name, GlobalEventExecutor.INSTANCE);
        AtomicBoolean draining = new AtomicBoolean();
        AtomicInteger inFlight = new AtomicInteger();
        try {
            Channel ch = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .handler(new ConnectionTracker(connections))
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ChannelPipeline p = ch.pipeline();
                            p.addLast(new HttpServerCodec(new HttpDecoderConfig()
                                    .setMaxInitialLineLength(MAX_INITIAL_LINE_BYTES).setMaxHeaderSize(MAX_HEADER_BYTES)),
                                    new PipeliningHandler(draining::get, inFlight));
                            if (handler.wantsHeadersAsReceived()) {
                                p.addLast(ReceivedHeaders.INSTANCE);
                            }
                            p.addLast(new BodyLimit(handler), new HttpServerKeepAliveHandler(), handler);
                        }
                    })
                    .bind(host, port).sync().channel();
            return new HttpServer(group, ch, connections, draining, inFlight);
        } catch (RuntimeException | InterruptedException e) {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            throw e;
        }
    }

    public EventLoopGroup group() {
        return group;
    }

    public int port() {
        return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    /** Requests received whole or in part and not answered yet, over all connections (for logs and tests). */
    public int requestsInFlight() {
        return inFlight.get();
    }

    /** Connections open now. */
    public int openConnections() {
        return connections.size();
    }

    /**
     * Shuts down gracefully within {@code deadline}: stops accepting (a new connection is refused), closes idle
     * connections at once, lets each request already received be answered (a delayed answer included: timers keep
     * running), with {@code Connection: close}, and closes its connection once that is written; whatever is still
     * open at the deadline is closed as by {@link #close()}, which follows. Returns the number of requests received
     * (whole or in part) that the deadline cut unanswered. Never call it on one of this server's event loops.
     */
    public int drainAndClose(Duration deadline) {
        long end = System.nanoTime() + deadline.toNanos();
        draining.set(true); // before the listener closes: a connection it accepts meanwhile drains when active
        channel.close().awaitUninterruptibly(remainingMillis(end), TimeUnit.MILLISECONDS);
        for (Channel ch : connections) { // all it will ever hold: the listener is closed
            if (ch.isRegistered()) { // else it is not active yet, and drains itself when it is
                ch.pipeline().fireUserEventTriggered(PipeliningHandler.DRAIN);
            }
        }
        connections.newCloseFuture().awaitUninterruptibly(remainingMillis(end), TimeUnit.MILLISECONDS);
        int cut = inFlight.get(); // the listener is closed and every connection drains: none starts from here
        close();
        return cut;
    }

    private static long remainingMillis(long endNanos) {
        return Math.max(0, TimeUnit.NANOSECONDS.toMillis(endNanos - System.nanoTime()));
    }

    /**
     * Stops accepting, closes every open connection (parked blocking queries included: shutting the event
     * loops down alone was seen to leave such sockets open), then stops the event loops.
     */
    @Override
    public void close() {
        channel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        connections.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    /**
     * {@link HttpObjectAggregator} whose 413 has a body with the reason, in the handler's error format. A request
     * whose body is too large by its {@code Content-Length} closes the connection unless it keeps it alive, and
     * then its body is skipped. One whose {@code Expect} is refused (413, or 417 for an expectation other than
     * {@code 100-continue}) closes it: its body may follow or not (a client need not wait for {@code 100 Continue}),
     * and Netty's decoder reads whatever follows as a new request, so a body holding a request was served as one.
     */
    private static final class BodyLimit extends HttpObjectAggregator {
        private final RequestHandler handler;

        BodyLimit(RequestHandler handler) {
            super(MAX_REQUEST_BYTES, true); // closeOnExpectationFailed
            this.handler = handler;
        }

        /** Netty answers an {@code Expect: 100-continue} it will not meet with an empty 413 or 417: give the reason. */
        @Override
        protected Object newContinueResponse(HttpMessage start, int maxContentLength, ChannelPipeline pipeline) {
            String expect = start.headers().get(HttpHeaderNames.EXPECT); // read first: Netty removes it when it answers
            Object res = super.newContinueResponse(start, maxContentLength, pipeline);
            if (res instanceof FullHttpResponse refused && refused.status().codeClass() == HttpStatusClass.CLIENT_ERROR) {
                HttpResponseStatus status = refused.status();
                refused.release();
                FullHttpResponse answer = handler.errorResponse(status, status.code() == 413
                        ? "request body too large (expected: at most " + MAX_REQUEST_BYTES + " bytes)"
                        : "expectation not supported: " + expect + " (expected: 100-continue)");
                HttpUtil.setKeepAlive(answer, false); // the aggregator closes the connection once it is written
                return answer;
            }
            return res;
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) throws Exception {
            if (!(oversized instanceof HttpRequest)) {
                super.handleOversizedMessage(ctx, oversized);
                return;
            }
            FullHttpResponse res = handler.errorResponse(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                    "request body too large (expected: at most " + MAX_REQUEST_BYTES + " bytes)");
            boolean close = oversized instanceof FullHttpMessage
                    || !HttpUtil.is100ContinueExpected(oversized) && !HttpUtil.isKeepAlive(oversized);
            HttpUtil.setKeepAlive(res, !close);
            ctx.writeAndFlush(res).addListener(f -> {
                if (close || !f.isSuccess()) {
                    ctx.close();
                }
            });
        }
    }

    /** Sits on the server channel and records each accepted connection before it is registered. */
    private static final class ConnectionTracker extends ChannelInboundHandlerAdapter {
        private final ChannelGroup connections;

        ConnectionTracker(ChannelGroup connections) {
            this.connections = connections;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            connections.add((Channel) msg);
            ctx.fireChannelRead(msg);
        }
    }
}

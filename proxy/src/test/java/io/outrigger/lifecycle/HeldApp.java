package io.outrigger.lifecycle;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;

import java.net.InetSocketAddress;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The app beside a test sidecar: a keep-alive HTTP/1.1 server on 127.0.0.1, port 0, that answers
 * {@code {"path": ...}} at once, or, while {@link #hold} is set, only when the test calls
 * {@link #releaseHeld()}: so a request can be kept "in flight" for exactly as long as a test needs.
 */
final class HeldApp implements AutoCloseable {
    /** Requests received, answered or not. */
    final AtomicInteger received = new AtomicInteger();
    volatile boolean hold;
    /** While set, a request's response head goes out at once and its body only at {@link #releaseHeld()}. */
    volatile boolean holdBody;

    private final Queue<Runnable> held = new ConcurrentLinkedQueue<>();
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel server;

    HeldApp() throws InterruptedException {
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(65536), new Handler());
                    }
                }).bind("127.0.0.1", 0).sync().channel();
    }

    int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    /** Answers every held request now. */
    void releaseHeld() {
        Runnable r;
        while ((r = held.poll()) != null) {
            r.run();
        }
    }

    @Override
    public void close() {
        if (group.isShuttingDown()) {
            return; // closed already: a test took the app down
        }
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            String path = req.uri();
            Runnable answer = () -> ctx.executor().execute(() -> {
                ByteBuf body = ByteBufUtil.writeAscii(ctx.alloc(), "{\"path\": \"" + path + "\"}");
                FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, body);
                res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
                ctx.writeAndFlush(res);
            });
            if (holdBody) {
                received.incrementAndGet();
                ByteBuf body = ByteBufUtil.writeAscii(ctx.alloc(), "{\"path\": \"" + path + "\"}");
                HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                head.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
                // Held before the head goes out: a test that has read the head releases the body at once.
                held.add(() -> ctx.executor().execute(() -> ctx.writeAndFlush(new DefaultLastHttpContent(body))));
                ctx.writeAndFlush(head);
            } else if (hold) {
                held.add(answer);
                received.incrementAndGet();
            } else {
                received.incrementAndGet();
                answer.run();
            }
        }
    }
}

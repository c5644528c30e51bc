package io.outrigger.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.PrematureChannelClosureException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A real HTTP/1.1 upstream on 127.0.0.1, port 0, whose behaviour tests switch at run time. It
 * records each request's head and counts accepted connections and body bytes (without keeping them,
 * unless {@link #keepBodies} is set).
 */
final class TestUpstream implements AutoCloseable {
    /** What one request saw; its body and trailer section only when {@link #keepBodies} was set (else null). */
    record Seen(String method, String uri, HttpHeaders headers, long bodyBytes, byte[] body, HttpHeaders trailers) {}

    final Queue<Seen> requests = new ConcurrentLinkedQueue<>();
    final AtomicInteger connections = new AtomicInteger();
    final AtomicInteger closedConnections = new AtomicInteger();
    /** Requests whose head, or a body piece, did not decode (a cut-short body, when the sidecar drops a request, is not counted). */
    final AtomicInteger malformed = new AtomicInteger();
    /** Body bytes received so far, over all requests, counted as each piece comes (before a body's end). */
    final AtomicLong bodyBytesIn = new AtomicLong();
    /** Keep each request's body bytes and trailer section in its {@link Seen} (small bodies only). */
    volatile boolean keepBodies;
    volatile int status = 200;
    volatile long delayMillis;
    volatile boolean closeBeforeResponse;
    volatile boolean closeMidResponse;
    volatile HttpHeaders extraResponseHeaders;
    /** Answers the head at once (chunked) and the byte count once the whole body is in, like a streaming echo. */
    volatile boolean respondHeadEarly;

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel server;

    TestUpstream() throws InterruptedException {
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        connections.incrementAndGet();
                        ch.closeFuture().addListener(f -> closedConnections.incrementAndGet());
                        ch.pipeline().addLast(new HttpServerCodec(), new Handler());
                    }
                }).bind("127.0.0.1", 0).sync().channel();
    }

    int port() {
        return ((java.net.InetSocketAddress) server.localAddress()).getPort();
    }

    int requestCount() {
        return requests.size();
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private final class Handler extends ChannelInboundHandlerAdapter {
        private HttpRequest head;
        private long bytes;
        /** The body so far, when {@link #keepBodies}; null otherwise. */
        private java.io.ByteArrayOutputStream kept;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof HttpObject && ((HttpObject) msg).decoderResult().isFailure()
                        && !(((HttpObject) msg).decoderResult().cause() instanceof PrematureChannelClosureException)) {
                    malformed.incrementAndGet();
                    ctx.close();
                    return;
                }
                if (msg instanceof HttpRequest) {
                    head = (HttpRequest) msg;
                    bytes = 0;
                    kept = keepBodies ? new java.io.ByteArrayOutputStream() : null;
                    if (respondHeadEarly) {
                        DefaultHttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                        res.headers().set(HttpHeaderNames.TRANSFER_ENCODING, "chunked");
                        ctx.writeAndFlush(res);
                    }
                }
                if (msg instanceof HttpContent) {
                    ByteBuf piece = ((HttpContent) msg).content();
                    bytes += piece.readableBytes();
                    if (kept != null) {
                        kept.writeBytes(ByteBufUtil.getBytes(piece));
                    }
                    bodyBytesIn.addAndGet(piece.readableBytes());
                }
                if (msg instanceof LastHttpContent) {
                    requests.add(new Seen(head.method().name(), head.uri(), head.headers(), bytes,
                            kept == null ? null : kept.toByteArray(),
                            kept == null ? null : ((LastHttpContent) msg).trailingHeaders().copy()));
                    if (respondHeadEarly) {
                        ByteBuf count = ByteBufUtil.writeAscii(ctx.alloc(), "{\"bytes\": " + bytes + "}");
                        ctx.writeAndFlush(new io.netty.handler.codec.http.DefaultLastHttpContent(count));
                        return;
                    }
                    long delay = delayMillis;
                    long count = bytes;
                    if (delay > 0) {
                        ctx.executor().schedule(() -> respond(ctx, count), delay, TimeUnit.MILLISECONDS);
                    } else {
                        respond(ctx, count);
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private long downloadLeft;

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (downloadLeft > 0 && ctx.channel().isWritable()) {
                streamDownload(ctx);
            }
            ctx.fireChannelWritabilityChanged();
        }

        /** Writes the rest of a {@code /download?bytes=N} body while the socket takes it: memory stays bounded. */
        private void streamDownload(ChannelHandlerContext ctx) {
            while (downloadLeft > 0 && ctx.channel().isWritable()) {
                int n = (int) Math.min(64 * 1024, downloadLeft);
                downloadLeft -= n;
                ByteBuf chunk = ctx.alloc().buffer(n).writeZero(n);
                ctx.write(downloadLeft == 0 ? new io.netty.handler.codec.http.DefaultLastHttpContent(chunk)
                        : new io.netty.handler.codec.http.DefaultHttpContent(chunk));
            }
            ctx.flush();
        }

        private void respond(ChannelHandlerContext ctx, long count) {
            if (head.uri().startsWith("/download?bytes=")) {
                downloadLeft = Long.parseLong(head.uri().substring("/download?bytes=".length()));
                DefaultHttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                res.headers().set(HttpHeaderNames.CONTENT_LENGTH, downloadLeft);
                ctx.write(res);
                streamDownload(ctx);
                return;
            }
            if (closeBeforeResponse) {
                ctx.close();
                return;
            }
            String body = "{\"port\": " + port() + ", \"bytes\": " + count + "}";
            if (closeMidResponse) {
                DefaultHttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status));
                res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 1000);
                ctx.write(res);
                ByteBuf part = ByteBufUtil.writeAscii(ctx.alloc(), "partial");
                ctx.writeAndFlush(new io.netty.handler.codec.http.DefaultHttpContent(part)).addListener(ChannelFutureListener.CLOSE);
                return;
            }
            ByteBuf content = ByteBufUtil.writeAscii(ctx.alloc(), body);
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status), content);
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json").setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
            HttpHeaders extra = extraResponseHeaders;
            if (extra != null) {
                res.headers().add(extra);
            }
            ctx.writeAndFlush(res);
        }
    }
}

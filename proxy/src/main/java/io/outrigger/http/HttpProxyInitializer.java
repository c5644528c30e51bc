package io.outrigger.http;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.timeout.IdleStateHandler;
import io.outrigger.SidecarContext;
import io.outrigger.config.SidecarConfig;
import io.outrigger.listener.ReadBufferShortage;
import io.outrigger.upstream.SmallTrailers;
import io.outrigger.upstream.UpstreamPools;

import java.util.concurrent.TimeUnit;

/**
 * The pipeline of one client connection of an HTTP listener:
 * <pre>
 *   idle (http.idle_timeout_ms) -> header-timeout (http.header_timeout_ms) -> codec (validating, RFC 9112 framing)
 *     -> guard (400 / 431 / 413) -> proxy (exchanges, upstream pools)
 * </pre>
 * Built once per listener and shared ({@code @Sharable} through {@link ChannelInitializer}).
 */
final class HttpProxyInitializer extends ChannelInitializer<SocketChannel> {
    /** Longest request line accepted; longer is refused with 414. */
    static final int MAX_REQUEST_LINE = 8192;
    /** Largest body piece handed on at once: bigger pieces mean fewer messages per byte. */
    static final int MAX_CHUNK = 64 * 1024;

    private final SidecarContext context;
    private final HttpRoute route;
    private final UpstreamPools pools;

    HttpProxyInitializer(SidecarContext context, HttpRoute route, UpstreamPools pools) {
        this.context = context;
        this.route = route;
        this.pools = pools;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        ReadBufferShortage.installOn(ch);
        SidecarConfig.Http http = context.config().http();
        ChannelPipeline p = ch.pipeline();
        HeaderTimeoutHandler headerTimeout = new HeaderTimeoutHandler(http.headerTimeoutMillis());
        // Reader-idle only: an all-idle or writer-idle handler would add a listener to every write.
        p.addLast("idle", new IdleStateHandler(http.idleTimeoutMillis(), 0, 0, TimeUnit.MILLISECONDS));
        p.addLast("header-timeout", headerTimeout);
        HttpListenerCodec codec = new HttpListenerCodec(decoderConfig(http));
        p.addLast("codec", codec);
        p.addLast("guard", new HttpRequestGuard(headerTimeout, codec, http.maxBodyBytes()));
        p.addLast("proxy", new HttpProxyHandler(context, route, pools));
    }

    /** Strict parsing: validated headers, strict line endings, one Content-Length, no Content-Length with Transfer-Encoding. */
    static HttpDecoderConfig decoderConfig(SidecarConfig.Http http) {
        return new HttpDecoderConfig()
                .setMaxInitialLineLength(MAX_REQUEST_LINE)
                .setMaxHeaderSize(http.maxHeaderBytes())
                .setMaxChunkSize(MAX_CHUNK)
                .setValidateHeaders(true)
                .setHeadersFactory(OwnHeaderNames.HEADERS)
                .setTrailersFactory(SmallTrailers.INSTANCE)
                .setStrictLineParsing(true)
                .setAllowDuplicateContentLengths(false)
                .setUseRfc9112TransferEncoding(true);
    }
}

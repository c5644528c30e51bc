package io.outrigger.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns what the codec rejected, and bodies over the limit, into a {@link RejectedRequest}
 * event, then drops everything the connection still sends (it is about to be closed).
 *
 * <p>The codec itself ({@link HttpListenerCodec}: Netty's HTTP/1.1 decoder with header validation, strict line parsing and
 * RFC 9112 transfer-encoding rules) refuses malformed request lines and headers, conflicting
 * {@code Content-Length} values and {@code Content-Length} together with
 * {@code Transfer-Encoding} (request smuggling); a too large header block becomes 431, a
 * request line over 8 KiB 414 (RFC 9112 section 3: a target longer than the server will parse). Bodies
 * larger than {@code maxBodyBytes} (0 = unlimited, the default; {@code http.max_body_bytes})
 * become 413, by their declared length or by counting chunked bytes; a head slower than
 * {@code http.header_timeout_ms} ({@link HeaderTimeoutHandler#EXPIRED}) becomes 408. Also tells the
 * {@link HeaderTimeoutHandler} when a head and a whole request arrived.
 *
 * One per connection; event loop only.
 */
final class HttpRequestGuard extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(HttpRequestGuard.class);

    private final HeaderTimeoutHandler headerTimeout;
    private final HttpListenerCodec codec;
    private final long maxBodyBytes;
    private boolean rejected;
    private long bodyBytes;

    HttpRequestGuard(HeaderTimeoutHandler headerTimeout, HttpListenerCodec codec, long maxBodyBytes) {
        this.headerTimeout = headerTimeout;
        this.codec = codec;
        this.maxBodyBytes = maxBodyBytes;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (rejected) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof HttpObject) {
            DecoderResult result = ((HttpObject) msg).decoderResult();
            if (result.isFailure()) {
                ReferenceCountUtil.release(msg);
                // The head came, malformed: its clock stops. The refusal may wait for a request pipelined before it.
                headerTimeout.headReceived();
                log.debug("{}: rejected request: {}", ctx.channel(), result.cause().toString());
                // A line too long in the body (a chunk-size line) is a malformed body, not a long request line.
                reject(ctx, result.cause() instanceof HttpListenerCodec.PipelineTooDeepException ? ProxyError.PIPELINE_TOO_DEEP
                        : result.cause() instanceof TooLongHttpHeaderException ? ProxyError.HEADERS_TOO_LARGE
                        : result.cause() instanceof TooLongHttpLineException && msg instanceof HttpRequest ? ProxyError.REQUEST_LINE_TOO_LONG
                        : ProxyError.MALFORMED_REQUEST, null);
                return;
            }
        }
        if (msg instanceof HttpRequest) {
            headerTimeout.headReceived();
            bodyBytes = 0;
            if (maxBodyBytes > 0 && HttpUtil.getContentLength((HttpRequest) msg, -1L) > maxBodyBytes) {
                ReferenceCountUtil.release(msg); // the head's headers stay readable: only a body is freed
                reject(ctx, ProxyError.BODY_TOO_LARGE, (HttpRequest) msg);
                return;
            }
        }
        if (msg instanceof HttpContent) {
            if (maxBodyBytes > 0) {
                bodyBytes += ((HttpContent) msg).content().readableBytes();
                if (bodyBytes > maxBodyBytes) {
                    ReferenceCountUtil.release(msg);
                    reject(ctx, ProxyError.BODY_TOO_LARGE, null);
                    return;
                }
            }
            if (msg instanceof LastHttpContent) {
                headerTimeout.requestReceived(codec.undecodedBytes() > 0);
            }
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt == HeaderTimeoutHandler.EXPIRED) {
            if (!rejected) {
                reject(ctx, ProxyError.HEADERS_TIMEOUT, null); // what is left of the head is dropped, not taken as malformed
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    private void reject(ChannelHandlerContext ctx, ProxyError error, HttpRequest head) {
        rejected = true;
        ctx.fireUserEventTriggered(new RejectedRequest(error, head, headerTimeout.requestStartNanos()));
    }
}

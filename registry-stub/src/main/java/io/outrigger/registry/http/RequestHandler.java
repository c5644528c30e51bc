package io.outrigger.registry.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.PrematureChannelClosureException;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;

/**
 * The request handler at the end of an {@link HttpServer} pipeline, and the one place where its failures become
 * answers: a request the codec could not read is {@code 414} (request line too long), {@code 431} (headers too
 * large) or {@code 400}, a request target that cannot be decoded {@code 400}, a {@link RequestRefused} its status, and any
 * other exception {@code 500} (logged with its stack trace, as it is a bug); no request is left unanswered.
 * Subclasses choose the body of those answers ({@link #errorResponse}) and handle the rest ({@link #handle}).
 *
 * <p>Subclasses must be {@code @Sharable} and stateless.
 */
public abstract class RequestHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final Logger log = LoggerFactory.getLogger(getClass());

    /**
     * Answers one request; may answer later (on the channel's event loop), and then must answer through
     * {@link #answerFailure} should that fail. The request is released after this returns.
     */
    protected abstract void handle(ChannelHandlerContext ctx, FullHttpRequest req, RequestTarget target, boolean keepAlive)
            throws RequestRefused;

    /** The answer to an error this server makes itself, with {@code reason} in this server's error format. */
    public abstract FullHttpResponse errorResponse(HttpResponseStatus status, String reason);

    /** Whether {@link ReceivedHeaders} should keep the headers as received for this handler (default false). */
    public boolean wantsHeadersAsReceived() {
        return false;
    }

    @Override
    protected final void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
        boolean keepAlive = HttpUtil.isKeepAlive(req);
        if (!req.decoderResult().isSuccess()) {
            refuseUndecodable(ctx, req.decoderResult().cause());
            return;
        }
        try {
            RequestTarget target;
            try {
                target = RequestTarget.parse(req.uri());
            } catch (IllegalArgumentException e) {
                throw new RequestRefused(HttpResponseStatus.BAD_REQUEST, "malformed request target: " + e.getMessage());
            }
            try {
                handle(ctx, req, target, keepAlive);
            } catch (RequestTarget.Undecodable e) {
                throw new RequestRefused(HttpResponseStatus.BAD_REQUEST, "malformed request target: " + e.getMessage());
            }
        } catch (RequestRefused r) {
            FullHttpResponse res = errorResponse(r.status(), r.getMessage());
            if (r.allow() != null) {
                res.headers().set(HttpHeaderNames.ALLOW, r.allow());
            }
            Responses.send(ctx, keepAlive, res);
        } catch (RuntimeException e) {
            answerFailure(ctx, req.method() + " " + req.uri(), e);
        }
    }

    /** The decoder gave up on the request: the connection cannot be read further, so the answer closes it. */
    private void refuseUndecodable(ChannelHandlerContext ctx, Throwable cause) {
        FullHttpResponse res;
        if (cause instanceof TooLongHttpLineException) {
            res = errorResponse(HttpResponseStatus.REQUEST_URI_TOO_LONG,
                    "request line too long (expected: at most " + HttpServer.MAX_INITIAL_LINE_BYTES + " bytes)");
        } else if (cause instanceof TooLongHttpHeaderException) {
            res = errorResponse(HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                    "header block too large (expected: at most " + HttpServer.MAX_HEADER_BYTES + " bytes)");
        } else {
            res = errorResponse(HttpResponseStatus.BAD_REQUEST, "malformed request: " + cause.getMessage());
        }
        Responses.send(ctx, false, res);
    }

    /**
     * Closes the connection after an error on it: I/O errors (a client that reset the connection, a health check
     * that gave up) and a client that closed in the middle of a request are routine and logged at DEBUG, anything
     * else at WARN; one line each, no stack trace.
     */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof IOException || cause instanceof PrematureChannelClosureException) {
            log.debug("connection {} closed: {}", ctx.channel().remoteAddress(), cause.toString());
        } else {
            log.warn("connection {} closed after an error: {}", ctx.channel().remoteAddress(), cause.toString());
        }
        ctx.close();
    }

    /** Answers {@code 500} and closes the connection after an unexpected exception while answering {@code what}. */
    protected final void answerFailure(ChannelHandlerContext ctx, String what, Throwable e) {
        log.warn("{}: answered 500 after an unexpected error", what, e);
        Responses.send(ctx, false, errorResponse(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error: " + e));
    }
}

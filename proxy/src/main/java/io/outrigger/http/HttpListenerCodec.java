package io.outrigger.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import io.outrigger.codec.HeadWriter;

import java.util.ArrayDeque;
import java.util.List;

/**
 * The listeners' HTTP/1.1 codec: what Netty's {@code HttpServerCodec} does (a request decoder and
 * a response encoder that knows which request each response answers, so a response to HEAD
 * carries no body and a 2xx to CONNECT no {@code Transfer-Encoding}), plus one answer that codec
 * keeps to itself: {@link #undecodedBytes()}, the bytes received and not yet decoded.
 *
 * <p>That answer tells the {@link HeaderTimeoutHandler} whether the next request had already begun
 * when the last one ended. A pipelining client's next request often arrives in the same read as the
 * end of the one before; its first bytes then wait in the decoder, where no later read would start
 * the header clock, and a drain would take the connection for idle and close it under the request.
 *
 * <p>As in {@code HttpServerCodec}, at most {@value #MAX_PIPELINE_DEPTH} requests are decoded and
 * not yet answered; the next one becomes a request that failed to decode ({@link PipelineTooDeepException}),
 * refused in its turn after the answers to those before it, and what follows is dropped. (Its other job, closing after
 * answering a request with both {@code Content-Length} and {@code Transfer-Encoding}, is not needed:
 * with RFC 9112 rules, which the listeners' decoder configuration turns on, such a request fails to
 * decode and is refused with 400.) One per connection; event loop only.
 */
final class HttpListenerCodec extends CombinedChannelDuplexHandler<HttpRequestDecoder, HttpResponseEncoder> {
    /** Requests decoded ahead of their responses; the same bound as {@code HttpServerCodec}'s. */
    static final int MAX_PIPELINE_DEPTH = 128;

    private final ArrayDeque<HttpMethod> methods = new ArrayDeque<>(4);
    private final RequestDecoder decoder;

    HttpListenerCodec(HttpDecoderConfig config) {
        decoder = new RequestDecoder(config);
        init(decoder, new ResponseEncoder());
    }

    /** Bytes received and not decoded yet: the start of a request whose head or body is still on its way. */
    int undecodedBytes() {
        return decoder.undecodedBytes();
    }

    private final class RequestDecoder extends HttpRequestDecoder {
        private boolean discard;
        /** A request head is being read: its field names are counted (not a trailer section's). */
        private boolean inHead;
        private int contentLengths;

        RequestDecoder(HttpDecoderConfig config) {
            super(config);
        }

        /**
         * Also fails a request line whose version is not {@code HTTP/} in capitals (RFC 9112 2.3: the name is
         * case-sensitive): Netty reads {@code http/1.0} or {@code FOO/1.0} as a version of its own that keeps the
         * connection alive by default, so a request a hop before this one ends with its close would be followed by
         * the next bytes read as another request.
         */
        @Override
        protected HttpMessage createMessage(String[] initialLine) throws Exception {
            if (!initialLine[2].startsWith("HTTP/")) {
                throw new IllegalArgumentException("not an HTTP version: " + initialLine[2]);
            }
            inHead = true;
            contentLengths = 0;
            return super.createMessage(initialLine);
        }

        /**
         * Fails a head with a second {@code Content-Length} line, in any HTTP version: Netty refuses one in HTTP/1.1
         * only, and reads an HTTP/1.0 body by the first, where a hop before this one may have read it by another.
         */
        @Override
        protected AsciiString splitHeaderName(byte[] sb, int start, int length) {
            AsciiString name = super.splitHeaderName(sb, start, length);
            if (inHead && length == 14 && name.contentEqualsIgnoreCase(HttpHeaderNames.CONTENT_LENGTH) && ++contentLengths > 1) {
                throw new IllegalArgumentException("more than one Content-Length field");
            }
            return name;
        }

        int undecodedBytes() {
            return actualReadableBytes();
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
            if (discard) {
                in.skipBytes(in.readableBytes());
                return;
            }
            int from = out.size();
            super.decode(ctx, in, out);
            for (int i = from; i < out.size(); i++) {
                Object msg = out.get(i);
                if (!(msg instanceof HttpRequest)) {
                    continue;
                }
                inHead = false;
                if (methods.size() >= MAX_PIPELINE_DEPTH) {
                    discard = true;
                    for (int j = out.size() - 1; j >= i; j--) {
                        ReferenceCountUtil.release(out.remove(j));
                    }
                    // A refusal in this request's turn, not a failed decode: that would close the connection at once,
                    // cutting the requests within the bound, some already forwarded, off from their answers.
                    HttpRequest refused = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/bad-request", Unpooled.EMPTY_BUFFER);
                    refused.setDecoderResult(DecoderResult.failure(new PipelineTooDeepException()));
                    out.add(refused);
                    methods.add(refused.method());
                    return;
                }
                methods.add(((HttpRequest) msg).method());
            }
        }
    }

    /** More requests arrived than {@value #MAX_PIPELINE_DEPTH} unanswered ones: the first past the bound is refused. */
    static final class PipelineTooDeepException extends TooLongFrameException {
        PipelineTooDeepException() {
            super("more than " + MAX_PIPELINE_DEPTH + " pipelined requests waiting for an answer");
        }
    }

    /**
     * Netty's response encoder, answering the request it belongs to; the common case (a whole final
     * response with a body, without {@code Transfer-Encoding}, between messages) is written by
     * {@link HeadWriter} in one copy.
     */
    private final class ResponseEncoder extends HttpResponseEncoder {
        /** The method of the request the response being encoded answers. */
        private HttpMethod method;
        /** Netty's encoder is inside a message (its head sent, its body not ended): it must see the rest. */
        private boolean inMessage;

        @Override
        protected void encode(ChannelHandlerContext ctx, Object msg, List<Object> out) throws Exception {
            if (!inMessage && msg instanceof FullHttpResponse full && plain(full)) {
                method = methods.poll();
                HeadWriter.response(ctx.alloc(), full, out);
                return;
            }
            boolean before = inMessage;
            inMessage = true; // if Netty's encoder throws, it alone goes on: its state is not known
            super.encode(ctx, msg, out);
            inMessage = !(msg instanceof LastHttpContent) && (msg instanceof HttpMessage || before);
        }

        /**
         * A final response whose body, if any, goes as it is and that Netty's encoder would not touch: not
         * to {@code HEAD} or {@code CONNECT}, not one that never has a body (204, 205, 304), no {@code Transfer-Encoding}.
         */
        private boolean plain(FullHttpResponse res) {
            int code = res.status().code();
            HttpMethod answers = methods.peek();
            return code >= 200 && code != 204 && code != 205 && code != 304
                    && answers != null && !HttpMethod.HEAD.equals(answers) && !HttpMethod.CONNECT.equals(answers)
                    && !res.headers().contains(HttpHeaderNames.TRANSFER_ENCODING);
        }

        @Override
        protected boolean isContentAlwaysEmpty(HttpResponse msg) {
            if (msg.status().codeClass() == HttpStatusClass.INFORMATIONAL) {
                return super.isContentAlwaysEmpty(msg); // an interim response: the request still waits for its final one
            }
            method = methods.poll();
            return HttpMethod.HEAD.equals(method) || super.isContentAlwaysEmpty(msg);
        }

        @Override
        protected void sanitizeHeadersBeforeEncode(HttpResponse msg, boolean isAlwaysEmpty) {
            if (!isAlwaysEmpty && HttpMethod.CONNECT.equals(method) && msg.status().codeClass() == HttpStatusClass.SUCCESS) {
                msg.headers().remove(HttpHeaderNames.TRANSFER_ENCODING); // a tunnel follows, not a body (RFC 9110 9.3.6)
                return;
            }
            super.sanitizeHeadersBeforeEncode(msg, isAlwaysEmpty);
        }
    }
}

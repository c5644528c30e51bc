package io.outrigger.upstream;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestEncoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.outrigger.codec.HeadWriter;

import java.util.ArrayDeque;
import java.util.List;

/**
 * The upstream connections' HTTP/1.1 codec: what Netty's {@code HttpClientCodec} does for a proxy
 * that never sends {@code CONNECT} upstream (a request encoder, and a response decoder that knows
 * which request each response answers, so the answer to {@code HEAD} is read without a body), plus
 * what a connection pool needs to know and that codec keeps to itself: whether the decoder holds
 * bytes it has not turned into a message yet ({@link #holdsBytes()}), and a way to refuse any byte
 * while the connection sits idle in the pool ({@link #idle()}).
 *
 * <p>Both catch an upstream out of step with its connection: one that sends a body with a
 * {@code 204}, a {@code 304} or the answer to {@code HEAD}, or a second answer to one request.
 * Those bytes follow a response that is complete; kept in the decoder, they would be read as the
 * start of the answer to the next request leased on the connection, and that request would get a
 * 502 or somebody else's response. A connection holding such bytes is closed instead of pooled,
 * and one that receives any while pooled is closed on the spot.
 *
 * <p>The decoder also refuses a response head with a malformed field line, which Netty's response
 * decoder would repair silently: it ends a field name at the first space, so {@code Bad Header: x}
 * would reach the client as {@code Bad: x} and {@code no colon here} as {@code no:}; and one whose
 * status line has an HTTP version other than 1.x, which Netty would take and the client get as an
 * HTTP/1.1 answer. Each head is
 * checked whole before Netty reads it ({@link ResponseHead#problem}); a bad one comes out as a
 * response whose decoder result is a failure, as Netty's own malformed heads do (a 502, the
 * connection closed).
 *
 * <p>A checked head that is plain (a status line and field lines as most servers write them, framed by
 * one {@code Content-Length}; {@link ResponseHead#plainResponse}) is made into the response from that
 * copy, and its body read as Netty reads one of known length; Netty's decoder then sees nothing of that
 * message. Every other head goes to Netty's decoder whole, from its first byte, and the message after its
 * end is looked at afresh. One per connection; event loop only.
 */
final class UpstreamCodec extends CombinedChannelDuplexHandler<HttpResponseDecoder, HttpRequestEncoder> {
    private final ArrayDeque<HttpMethod> methods = new ArrayDeque<>(2);
    private final ResponseDecoder decoder;
    private boolean idle;

    /**
     * The response decoder's configuration: names and values validated, so what a broken or hostile
     * instance sends fails as a bad response (502) rather than reaching a client whose parser may read
     * it otherwise. The names of a head are checked by {@link ResponseHead#problem}, which refuses the
     * head before Netty reads it when one is not a token; Netty's own check of every name would repeat
     * that on each field the decoder adds and on each field the sidecar sets (its {@code x-request-id},
     * {@code traceparent}, {@code Via}), as would its check of those fields' values ({@link OwnHeaderValues}). Trailer
     * fields, which that check does not see, keep Netty's.
     */
    static HttpDecoderConfig decoderConfig(int maxHeaderBytes) {
        return new HttpDecoderConfig().setMaxHeaderSize(maxHeaderBytes).setValidateHeaders(true)
                .setHeadersFactory(OwnHeaderValues.on(DefaultHttpHeadersFactory.headersFactory().withNameValidation(false)))
                .setTrailersFactory(SmallTrailers.INSTANCE);
    }

    UpstreamCodec(HttpDecoderConfig config) {
        decoder = new ResponseDecoder(config);
        init(decoder, new RequestEncoder());
    }

    /** Whether bytes were received that are not part of a message handed on yet. */
    boolean holdsBytes() {
        return decoder.undecodedBytes() > 0;
    }

    /**
     * The connection is idle (pooled): until the next request is written, any byte received closes
     * it instead of being decoded.
     */
    void idle() {
        this.idle = true;
    }

    private final class ResponseDecoder extends HttpResponseDecoder {
        /**
         * Bytes beyond which a head without its end fails anyway: Netty counts neither CR nor LF against its limits,
         * nor the control bytes (up to a line's length) it skips before the status line.
         */
        private final int headLimit;
        /** The head of the message being decoded passed {@link ResponseHead#problem}. */
        private boolean headChecked;
        /** The head still arriving, copied and scanned. */
        private final ResponseHead head = new ResponseHead();
        /** A malformed message was handed on: the rest of the connection's bytes mean nothing. */
        private boolean failed;
        /** The connection's input ended: a head cut short is Netty's to fail, as closed before its end. */
        private boolean inputEnded;

        /** The fields of the responses built from {@link #head} ({@link ResponseHead#plainResponse}). */
        private final HttpHeadersFactory headersFactory;
        /** The trailer section that ends every plain response's body: empty, read-only, shared. */
        private static final HttpHeaders NO_TRAILERS = LastHttpContent.EMPTY_LAST_CONTENT.trailingHeaders();
        /** A head this long or longer is left to Netty, whose limits it may break. */
        private final int plainLimit;
        private final int maxChunkSize;
        /** Bytes of a plain response's body still to come; 0 between messages and in those Netty decodes. */
        private long bodyLeft;
        /** Netty's decoder took a {@code 101} to another protocol: it passes every later byte on as it is, none is a plain response. */
        private boolean switched;

        ResponseDecoder(HttpDecoderConfig config) {
            super(config);
            headLimit = 2 * config.getMaxInitialLineLength() + 3 * config.getMaxHeaderSize() + 4;
            headersFactory = config.getHeadersFactory();
            plainLimit = Math.min(config.getMaxInitialLineLength(), config.getMaxHeaderSize());
            maxChunkSize = config.getMaxChunkSize();
        }

        int undecodedBytes() {
            return actualReadableBytes();
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
            if (idle) {
                in.skipBytes(in.readableBytes()); // nothing was asked: the connection is out of step
                ctx.close();
                return;
            }
            if (failed) {
                in.skipBytes(in.readableBytes());
                return;
            }
            if (bodyLeft > 0) {
                readBody(in, out);
                return;
            }
            if (!headChecked) {
                int headEnd = head.end(in, headLimit);
                if (headEnd < 0 && in.readableBytes() <= headLimit && !inputEnded) {
                    return; // the rest of the head is still to come
                }
                // A head longer than the limits is left to Netty, which fails it as too long.
                HttpMethod method = methods.peek();
                HttpResponse plain = headEnd >= 0 && method != null && !switched && !HttpMethod.HEAD.equals(method)
                        ? head.plainResponse(headEnd, headersFactory, plainLimit) : null;
                // A plain head passed a stricter check than this one on the way.
                String problem = headEnd < 0 || plain != null ? null : head.problem(headEnd);
                long length = plain == null ? 0 : head.plainLength();
                head.reset();
                if (plain != null) {
                    methods.poll();
                    in.skipBytes(headEnd + 1);
                    out.add(plain);
                    if (length == 0) {
                        out.add(LastHttpContent.EMPTY_LAST_CONTENT);
                    } else {
                        bodyLeft = length;
                        readBody(in, out);
                    }
                    return;
                }
                if (problem != null) {
                    in.skipBytes(in.readableBytes());
                    HttpMessage invalid = createInvalidMessage();
                    invalid.setDecoderResult(DecoderResult.failure(new IllegalArgumentException(problem)));
                    out.add(invalid);
                    failed = true;
                    return;
                }
                headChecked = true;
            }
            int from = out.size();
            super.decode(ctx, in, out);
            for (int i = from; i < out.size(); i++) {
                Object o = out.get(i);
                if (o instanceof HttpObject && ((HttpObject) o).decoderResult().isFailure()) {
                    failed = true;
                }
                if (o instanceof HttpResponse && isSwitchingToNonHttp1Protocol((HttpResponse) o)) {
                    switched = true;
                }
                if (o instanceof LastHttpContent) {
                    headChecked = false; // the next message's head is checked afresh
                }
            }
        }

        /**
         * The next piece of a plain response's body, as Netty's decoder reads a body of known length: up to
         * its chunk size at a time, a slice of the read buffer, the last piece a {@link LastHttpContent}.
         */
        private void readBody(ByteBuf in, List<Object> out) {
            int readable = in.readableBytes();
            if (readable == 0) {
                return; // an empty piece would read as the end
            }
            int n = (int) Math.min(Math.min(readable, maxChunkSize), bodyLeft);
            ByteBuf content = in.readRetainedSlice(n);
            bodyLeft -= n;
            // A body framed by its length has no trailer section: the last piece shares the empty, read-only one.
            out.add(bodyLeft == 0 ? new DefaultLastHttpContent(content, NO_TRAILERS) : new DefaultHttpContent(content));
        }

        @Override
        protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
            inputEnded = true;
            super.decodeLast(ctx, in, out);
            // A plain body cut short ends with nothing, as Netty's decoder ends one: the exchange sees the close.
            bodyLeft = 0;
        }

        @Override
        protected boolean isContentAlwaysEmpty(HttpMessage msg) {
            if (((HttpResponse) msg).status().codeClass() == HttpStatusClass.INFORMATIONAL) {
                return super.isContentAlwaysEmpty(msg); // an interim answer: the request still waits for its final one
            }
            // Null when an upstream answers more often than it was asked; the stray is then read by the status alone.
            HttpMethod method = methods.poll();
            return HttpMethod.HEAD.equals(method) || super.isContentAlwaysEmpty(msg);
        }
    }

    /**
     * Netty's request encoder, with the common case (a whole request without {@code Transfer-Encoding},
     * between messages) written by {@link HeadWriter} in one copy.
     */
    private final class RequestEncoder extends HttpRequestEncoder {
        /** Netty's encoder is inside a message (its head sent, its body not ended): it must see the rest. */
        private boolean inMessage;

        @Override
        protected void encode(ChannelHandlerContext ctx, Object msg, List<Object> out) throws Exception {
            if (msg instanceof HttpRequest) {
                idle = false;
                methods.add(((HttpRequest) msg).method());
            }
            if (!inMessage && msg instanceof FullHttpRequest full && !full.headers().contains(HttpHeaderNames.TRANSFER_ENCODING)
                    && HeadWriter.request(ctx.alloc(), full, out)) {
                return;
            }
            boolean before = inMessage;
            inMessage = true; // if Netty's encoder throws, it alone goes on: its state is not known
            super.encode(ctx, msg, out);
            inMessage = !(msg instanceof LastHttpContent) && (msg instanceof HttpMessage || before);
        }
    }
}

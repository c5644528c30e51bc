package io.outrigger.http;

import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.EncoderException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static io.outrigger.http.EmbeddedBytes.ascii;
import static io.outrigger.http.EmbeddedBytes.outbound;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The listeners' codec on its own: the bytes it holds back, and the framing jobs it keeps from Netty's server codec. */
class HttpListenerCodecTest {
    private final HttpListenerCodec codec = new HttpListenerCodec(new HttpDecoderConfig());
    private final EmbeddedChannel ch = new EmbeddedChannel(codec);

    @AfterEach
    void tearDown() {
        ch.finishAndReleaseAll();
    }

    @Test
    void countsTheBytesOfARequestItHasNotDecodedYet() {
        assertEquals(0, codec.undecodedBytes());
        ch.writeInbound(ascii("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHo"));
        assertEquals("/a", ((HttpRequest) ch.readInbound()).uri());
        ReferenceCountUtil.release(ch.readInbound()); // the end of /a
        assertEquals(2, codec.undecodedBytes(), "\"Ho\" waits for the rest of its line");
        assertFalse(ch.inboundMessages().stream().anyMatch(m -> m instanceof HttpRequest), "no /b yet");

        ch.writeInbound(ascii("st: x\r\n\r\n"));
        assertEquals("/b", ((HttpRequest) ch.readInbound()).uri());
        assertEquals(0, codec.undecodedBytes());
    }

    @Test
    void aResponseToHeadHasNoBodyFramingEvenWhenTheUpstreamSaysChunked() {
        requested("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.1\r\nHost: x\r\n\r\n");

        FullHttpResponse head = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set(HttpHeaderNames.TRANSFER_ENCODING, "chunked");
        ch.writeOutbound(head);
        FullHttpResponse get = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                ascii("hi"));
        get.headers().set(HttpHeaderNames.TRANSFER_ENCODING, "chunked");
        ch.writeOutbound(get);

        String wire = outbound(ch);
        String[] responses = wire.split("(?=HTTP/1.1 )");
        assertEquals(2, responses.length, wire);
        assertTrue(responses[0].endsWith("\r\n\r\n") && !responses[0].contains("0\r\n\r\n"), "HEAD: head only: " + wire);
        assertTrue(responses[1].endsWith("2\r\nhi\r\n0\r\n\r\n"), "GET: chunked body: " + wire);
    }

    @Test
    void theFirstPipelinedRequestPastTheBoundFailsToDecodeAndTheRestIsDropped() {
        String one = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        ch.writeInbound(ascii(one.repeat(HttpListenerCodec.MAX_PIPELINE_DEPTH + 5)));
        int requests = 0;
        int refused = 0;
        Object msg;
        while ((msg = ch.readInbound()) != null) {
            assertTrue(msg instanceof HttpRequest || msg instanceof LastHttpContent, String.valueOf(msg));
            if (msg instanceof HttpRequest && ((HttpRequest) msg).decoderResult().isFailure()) {
                refused++;
                assertTrue(((HttpRequest) msg).decoderResult().cause() instanceof HttpListenerCodec.PipelineTooDeepException);
            } else if (msg instanceof HttpRequest) {
                assertEquals(0, refused, "no request after the refused one");
                requests++;
            }
            ReferenceCountUtil.release(msg);
        }
        assertEquals(HttpListenerCodec.MAX_PIPELINE_DEPTH, requests, "the ones within the bound still go on");
        assertEquals(1, refused, "the first past the bound is refused in its turn");
    }

    @Test
    void wholeResponsesAroundAHeadAnswerAndAStreamedOneEachAnswerTheirOwnRequest() {
        requested("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /3 HTTP/1.1\r\nHost: x\r\n\r\nGET /4 HTTP/1.1\r\nHost: x\r\n\r\n");

        ch.writeOutbound(whole("one"));
        FullHttpResponse head = whole("");
        head.headers().set(HttpHeaderNames.CONTENT_LENGTH, 5); // what a GET would get: a HEAD answer has no body
        ch.writeOutbound(head);
        HttpResponse streamed = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        HttpUtil.setTransferEncodingChunked(streamed, true);
        ch.writeOutbound(streamed, new DefaultHttpContent(ascii("ab")), new DefaultLastHttpContent(ascii("c")));
        ch.writeOutbound(whole("four"));

        assertEquals("HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\none"
                + "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"
                + "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n"
                + "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nfour", outbound(ch));
    }

    @Test
    void aWholeResponseInsideAStreamedOneFailsAsWithNettysEncoder() {
        requested("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
        HttpResponse streamed = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        HttpUtil.setTransferEncodingChunked(streamed, true);
        ch.writeOutbound(streamed);
        outbound(ch);

        FullHttpResponse stray = whole("stray");
        assertThrows(EncoderException.class, () -> ch.writeOutbound(stray), "not written into the middle of a chunked body");
        assertEquals(0, stray.refCnt());
        assertEquals("", outbound(ch));
    }

    private static FullHttpResponse whole(String body) {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, ascii(body));
        r.headers().set(HttpHeaderNames.CONTENT_LENGTH, body.length());
        return r;
    }

    /** The codec decodes {@code requests}, whose answers the test then writes; the decoded requests are dropped. */
    private void requested(String requests) {
        ch.writeInbound(ascii(requests));
        ch.inboundMessages().forEach(ReferenceCountUtil::release);
        ch.inboundMessages().clear();
    }
}

package io.outrigger.registry.http;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RequestHandlerTest {
    /** Answers 200 with the decoded segments (reading the query as a handler would), or throws when the path is /boom. */
    @ChannelHandler.Sharable
    private static final class Echo extends RequestHandler {
        @Override
        protected void handle(ChannelHandlerContext ctx, FullHttpRequest req, RequestTarget target, boolean keepAlive) {
            if (target.segments().get(0).equals("boom")) {
                throw new IllegalStateException("a bug");
            }
            target.parameters(); // decoded on first use: a bad escape there surfaces here
            Responses.send(ctx, keepAlive, Responses.json(HttpResponseStatus.OK, target.segments()));
        }

        @Override
        public FullHttpResponse errorResponse(HttpResponseStatus status, String reason) {
            return Responses.error(status, reason);
        }
    }

    private static FullHttpResponse answer(String uri) {
        EmbeddedChannel ch = new EmbeddedChannel(new Echo());
        ch.writeInbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, uri));
        FullHttpResponse res = ch.readOutbound();
        assertFalse(ch.finishAndReleaseAll());
        return res;
    }

    private static String body(FullHttpResponse res) {
        try {
            return res.content().toString(StandardCharsets.UTF_8);
        } finally {
            res.release();
        }
    }

    @Test
    void badEscapesAnswer400WithTheReason() {
        for (String uri : new String[] {"/x%zz", "/a/%7", "/%", "/ok?index=%zz", "/%C3%28"}) {
            FullHttpResponse res = answer(uri);
            assertEquals(HttpResponseStatus.BAD_REQUEST, res.status(), uri);
            String body = body(res);
            assertTrue(body.startsWith("{\"error\":\"malformed request target: "), uri + " -> " + body);
        }
    }

    @Test
    void anUnexpectedExceptionAnswers500AndClosesTheConnection() {
        FullHttpResponse res = answer("/boom");
        assertEquals(HttpResponseStatus.INTERNAL_SERVER_ERROR, res.status());
        assertEquals("close", res.headers().get(HttpHeaderNames.CONNECTION));
        assertTrue(body(res).contains("a bug"));
    }

    @Test
    void connectionErrorsCloseTheConnectionInsteadOfReachingThePipelineTail() {
        for (Throwable error : new Throwable[] {new java.io.IOException("Connection reset"), new IllegalStateException("odd")}) {
            EmbeddedChannel ch = new EmbeddedChannel(new Echo());
            ch.pipeline().fireExceptionCaught(error);
            ch.checkException(); // rethrows what reached the tail
            assertFalse(ch.isOpen(), error.toString());
            assertFalse(ch.finishAndReleaseAll());
        }
    }

    @Test
    void segmentsAreDecodedOnceEach() {
        assertEquals("[\"a\",\"b/c\",\"p%41\",\"x+y\",\"\u00fc\"]", body(answer("/a/b%2Fc/p%2541/x+y/%C3%BC?q=1")));
        assertEquals("[\"\"]", body(answer("/")));
        assertThrows(IllegalArgumentException.class, () -> RequestTarget.decodeSegment("%G0"));
    }
}

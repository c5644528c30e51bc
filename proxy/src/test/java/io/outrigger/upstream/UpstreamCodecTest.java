package io.outrigger.upstream;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.EncoderException;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static io.outrigger.http.EmbeddedBytes.ascii;
import static io.outrigger.http.EmbeddedBytes.outbound;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The response heads {@link UpstreamCodec} checks, whole or arriving a byte at a time. */
class UpstreamCodecTest {

    @Test
    void aValidHeadPassesWhetherItArrivesWholeOrAByteAtATime() {
        String response = "\r\nHTTP/1.1 200 OK\r\nX-Spaced : a\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nok";
        for (boolean byteAtATime : new boolean[] {false, true}) {
            EmbeddedChannel ch = channelAwaitingAnAnswer();
            feed(ch, response, byteAtATime);
            HttpResponse head = assertInstanceOf(HttpResponse.class, ch.readInbound());
            assertTrue(head.decoderResult().isSuccess(), head.decoderResult().toString());
            assertEquals("a", head.headers().get("X-Spaced"), "whitespace before the colon is removed (RFC 9112 5.1)");
            assertEquals("a b", head.headers().get("X-Folded"));
            StringBuilder body = new StringBuilder();
            HttpContent content;
            do {
                content = assertInstanceOf(HttpContent.class, ch.readInbound());
                body.append(content.content().toString(StandardCharsets.ISO_8859_1));
                content.release();
            } while (!(content instanceof LastHttpContent));
            assertEquals("ok", body.toString());
            assertFalse(ch.finishAndReleaseAll());
        }
    }

    @Test
    void aMalformedFieldLineFailsTheHeadWhetherItArrivesWholeOrAByteAtATime() {
        // The decoder's own check of names is off (ResponseHead's replaces it): every byte that is not a tchar must fail here.
        String[] lines = {"Bad Header: x", "Bad\tHeader: x", "Garbage", "Garbage line", ": x", "B@d: x", " X-Folded-Onto-Status: x",
            "B\u0001d: x", "B\u007fd: x", "Bad\"Name: x", "Bad(Name): x", "{Name}: x", "N\u00e9me: x", "Na/me: x", "Na;me: x"};
        for (String line : lines) {
            for (boolean byteAtATime : new boolean[] {false, true}) {
                EmbeddedChannel ch = channelAwaitingAnAnswer();
                feed(ch, "HTTP/1.1 200 OK\r\n" + line + "\r\nContent-Length: 2\r\n\r\nok", byteAtATime);
                HttpObject first = ch.readInbound();
                assertTrue(first.decoderResult().isFailure(), line + ": " + first);
                ReferenceCountUtil.release(first);
                Object rest = ch.readInbound();
                ReferenceCountUtil.release(rest);
                assertNull(rest, line + ": nothing after the failure");
                ch.finishAndReleaseAll();
            }
        }
    }

    /**
     * Netty skips up to a line's length of CR, LF and other control bytes before a status line without counting them
     * against its limits: a head that is long only with those must still wait for its end and be checked, not be
     * taken as too long for Netty (which accepts it, names unchecked).
     */
    @Test
    void aHeadLongWithBytesBeforeItsStatusLineIsStillChecked() {
        String head = "\r\n".repeat(2000) + "HTTP/1.1 200 " + "O".repeat(3980) + "\r\nB@d: 1\r\n" + " \r\n".repeat(7500)
                + "Content-Length: 2\r\n";
        EmbeddedChannel ch = channelAwaitingAnAnswer();
        feed(ch, head, false);
        feed(ch, "\r\nok", false);
        HttpObject first = ch.readInbound();
        assertTrue(first.decoderResult().isFailure(), "a name that is not a token must fail the head: " + first);
        ReferenceCountUtil.release(first);
        ch.finishAndReleaseAll();
    }

    /** Trailer fields are not seen by the head's check, so Netty's own check of their names stays on. */
    @Test
    void aTrailerFieldWhoseNameIsNotATokenFailsTheResponse() {
        EmbeddedChannel ch = channelAwaitingAnAnswer();
        feed(ch, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nB@d: x\r\n\r\n", false);
        HttpResponse head = assertInstanceOf(HttpResponse.class, ch.readInbound());
        assertTrue(head.decoderResult().isSuccess(), head.toString());
        boolean failed = false;
        Object o;
        while ((o = ch.readInbound()) != null) {
            failed |= ((HttpObject) o).decoderResult().isFailure();
            ReferenceCountUtil.release(o);
        }
        assertTrue(failed, "a trailer named B@d must fail the response");
        ch.finishAndReleaseAll();
    }

    /** RFC 9112 2.3: HTTP/1.x only; a higher minor version is read as 1.1 (RFC 9110 2.5). Netty's decoder takes any. */
    @Test
    void aStatusLineWhoseVersionIsNot1xFailsTheHeadWhetherItArrivesWholeOrAByteAtATime() {
        String[] versions = {"HTTP/9.9", "HTTP/2.0", "HTTP/0.9", "HTTP/10.1", "HTTP/11.1", "FOO/1.1", "HTTP/1."};
        for (String version : versions) {
            for (boolean byteAtATime : new boolean[] {false, true}) {
                EmbeddedChannel ch = channelAwaitingAnAnswer();
                feed(ch, version + " 200 OK\r\nContent-Length: 2\r\n\r\nok", byteAtATime);
                HttpObject first = ch.readInbound();
                assertTrue(first.decoderResult().isFailure(), version + ": " + first);
                ReferenceCountUtil.release(first);
                Object rest = ch.readInbound();
                ReferenceCountUtil.release(rest);
                assertNull(rest, version + ": nothing after the failure");
                ch.finishAndReleaseAll();
            }
        }
        for (String version : new String[] {"HTTP/1.0", "HTTP/1.1", "HTTP/1.2", "http/1.1"}) {
            EmbeddedChannel ch = channelAwaitingAnAnswer();
            feed(ch, version + " 200 OK\r\nContent-Length: 0\r\n\r\n", false);
            HttpResponse head = assertInstanceOf(HttpResponse.class, ch.readInbound());
            assertTrue(head.decoderResult().isSuccess(), version + ": " + head.decoderResult());
            assertInstanceOf(LastHttpContent.class, ch.readInbound());
            assertFalse(ch.finishAndReleaseAll());
        }
    }

    /**
     * Each answer's head is checked afresh, also when it arrives in the same read as the answer before it, and a
     * head longer than the first copy (with its body in the same read) is checked to its last line.
     */
    @Test
    void eachOfTwoAnswersInOneReadIsCheckedAndALongHeadToItsLastLine() {
        String longHead = "HTTP/1.1 200 OK\r\n" + "X-Filler: abcdefghij\r\n".repeat(200);
        for (boolean byteAtATime : new boolean[] {false, true}) {
            for (String secondLine : new String[] {"X-Ok: 1", "B@d: 1"}) {
                EmbeddedChannel ch = channelAwaitingAnAnswer();
                ch.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/2", Unpooled.EMPTY_BUFFER));
                Object sent;
                while ((sent = ch.readOutbound()) != null) {
                    ReferenceCountUtil.release(sent);
                }
                feed(ch, longHead + "Content-Length: 2\r\n\r\nok" + longHead + secondLine + "\r\nContent-Length: 3\r\n\r\nyes", byteAtATime);
                HttpResponse first = assertInstanceOf(HttpResponse.class, ch.readInbound());
                assertTrue(first.decoderResult().isSuccess(), first.decoderResult().toString());
                assertEquals(200, first.headers().getAll("X-Filler").size());
                Object o;
                while (!((o = ch.readInbound()) instanceof LastHttpContent)) {
                    ReferenceCountUtil.release(o);
                }
                ReferenceCountUtil.release(o);
                HttpObject second = ch.readInbound();
                assertEquals(secondLine.startsWith("B@d"), second.decoderResult().isFailure(), secondLine + " byte at a time: " + byteAtATime);
                ReferenceCountUtil.release(second);
                ch.finishAndReleaseAll();
            }
        }
    }

    private static EmbeddedChannel channelAwaitingAnAnswer() {
        EmbeddedChannel ch = new EmbeddedChannel(new UpstreamCodec(UpstreamCodec.decoderConfig(8192)));
        ch.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/", Unpooled.EMPTY_BUFFER));
        Object sent;
        while ((sent = ch.readOutbound()) != null) {
            ReferenceCountUtil.release(sent);
        }
        return ch;
    }

    private static void feed(EmbeddedChannel ch, String bytes, boolean byteAtATime) {
        byte[] b = bytes.getBytes(StandardCharsets.ISO_8859_1);
        if (!byteAtATime) {
            ch.writeInbound(Unpooled.wrappedBuffer(b));
            return;
        }
        for (byte x : b) {
            ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {x}));
        }
    }

    @Test
    void wholeRequestsAroundAStreamedOneAreWrittenAsNettysEncoderWritesThem() {
        EmbeddedChannel ch = new EmbeddedChannel(new UpstreamCodec(UpstreamCodec.decoderConfig(8192)));
        ch.writeOutbound(wholeRequest("/1", "one"));
        HttpRequest streamed = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/2");
        HttpUtil.setTransferEncodingChunked(streamed, true);
        ch.writeOutbound(streamed, new DefaultHttpContent(ascii("ab")), new DefaultLastHttpContent(ascii("c")));
        ch.writeOutbound(wholeRequest("/3", "three"));
        ch.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.OPTIONS, "*", Unpooled.EMPTY_BUFFER));

        assertEquals("POST /1 HTTP/1.1\r\ncontent-length: 3\r\n\r\none"
                + "POST /2 HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n"
                + "POST /3 HTTP/1.1\r\ncontent-length: 5\r\n\r\nthree"
                + "OPTIONS * HTTP/1.1\r\n\r\n", outbound(ch));
        ch.finishAndReleaseAll();
    }

    @Test
    void aWholeRequestInsideAStreamedOneFailsAsWithNettysEncoder() {
        EmbeddedChannel ch = new EmbeddedChannel(new UpstreamCodec(UpstreamCodec.decoderConfig(8192)));
        HttpRequest streamed = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/1");
        HttpUtil.setTransferEncodingChunked(streamed, true);
        ch.writeOutbound(streamed);
        outbound(ch);
        DefaultFullHttpRequest stray = wholeRequest("/2", "stray");
        assertThrows(EncoderException.class, () -> ch.writeOutbound(stray), "not written into the middle of a chunked body");
        assertEquals(0, stray.refCnt());
        assertEquals("", outbound(ch));
        ch.finishAndReleaseAll();
    }

    private static DefaultFullHttpRequest wholeRequest(String uri, String body) {
        DefaultFullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, uri, ascii(body));
        r.headers().set(HttpHeaderNames.CONTENT_LENGTH, body.length());
        return r;
    }
}

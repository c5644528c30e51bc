package io.outrigger.upstream;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The responses {@link UpstreamCodec} builds from its own copy of the head ({@link ResponseHead#plainResponse}) come out
 * exactly as Netty's response decoder makes them from the same bytes, whole or a byte at a time; and every head that is
 * not plain is still Netty's to decode. Which of the two decoded a head shows in its values' type: the plain path makes
 * {@link AsciiString}s, Netty's decoder Strings.
 */
class PlainResponseTest {
    private static final String BODY_20K = "0123456789".repeat(2000);

    /** Heads the codec builds itself. */
    private static final String[] PLAIN = {
            "HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Wed, 02 Dec 2026 08:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
                    + "Connection: keep-alive\r\n\r\nok",
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 200 Fine Thanks\r\nContent-Length: 3\r\n\r\nyes",
            "HTTP/1.1 503 \r\nContent-Length: 1\r\nRetry-After: 2\r\n\r\nx",
            "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 299 Whatever\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 500 Internal Server Error\r\nX-Ows: \t spaced\tvalue \t\r\nX-Empty:\r\nX-Blank:   \r\nX-Latin: caf\u00e9\r\n"
                    + "CONTENT-LENGTH: 4\r\nX-Repeated: 1\r\nX-Repeated: 2\r\n\r\nboom",
            "\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n" + BODY_20K,
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nz",
            // An interim answer is Netty's; the final one after it is plain.
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    };

    /** Heads left to Netty's decoder: repaired, framed otherwise, or failed. */
    private static final String[] NETTYS = {
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nContent-Length: 02\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nX-Spaced : a\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\nok",
            "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200  OK\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK \r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 Caf\u00e9\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 204 No Content\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 304 Not Modified\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX-Bad: a\u0001b\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nX-Bad: a\u007fb\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nX-Bad: a\rb\r\nContent-Length: 2\r\n\r\nok",
            "http/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\n\r\n",
    };

    @Test
    void aPlainHeadIsBuiltFromTheCopyExactlyAsNettyDecodesIt() {
        for (String response : PLAIN) {
            for (Decoded ours : decodedAsNettyDecodes(response, false, true)) {
                assertTrue(ours.plain && !ours.objects.isEmpty(), "built from the copy: " + response);
            }
        }
    }

    @Test
    void everyOtherHeadIsNettysToDecodeAsBefore() {
        for (String response : NETTYS) {
            boolean versionChecked = response.startsWith("http/") || response.startsWith("HTTP/1.2"); // the codec's own check fails these first
            for (Decoded ours : decodedAsNettyDecodes(response, true, !versionChecked)) {
                assertFalse(ours.plain, "left to Netty: " + response);
            }
        }
    }

    /**
     * Before a status line Netty's decoder (strict line parsing, its default) skips CR and LF only, and fails a head
     * whose first other byte is a control character (0x00-0x1F, 0x7F-0x9F); a space starts the line. None of these
     * may come out as a plain response where Netty fails the head.
     */
    private static final String[] LEADING = {
            "\u007fHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            "\u0085HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            "\u001cHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            "\u0000HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            "\tHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            "\r\n\u000bHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            "\r\n \r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            " HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    };

    @Test
    void bytesBeforeTheStatusLineAreSkippedOnlyAsNettySkipsThem() {
        for (String response : LEADING) {
            decodedAsNettyDecodes(response, true, true);
        }
    }

    /**
     * After a {@code 101} that switches to another protocol Netty's decoder passes every byte on as it is: what follows
     * is not read as an HTTP response, however plain it looks.
     */
    @Test
    void afterASwitchOfProtocolsNothingIsReadAsAPlainResponse() {
        decodedAsNettyDecodes("HTTP/1.1 101 Switching Protocols\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, true);
    }

    /** A body cut short by the connection's close ends with nothing after its last piece, as with Netty's decoder. */
    @Test
    void aPlainBodyCutShortEndsAsNettysDoes() {
        for (Decoded ours : decodedAsNettyDecodes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234", true, true)) {
            assertTrue(ours.plain);
            assertFalse(ours.objects.stream().anyMatch(o -> o.startsWith("last")), ours.objects.toString());
        }
    }

    /** The answer to HEAD has no body whatever its Content-Length says: Netty's decoder, told the method, reads it so. */
    @Test
    void theAnswerToHeadIsNettysAndHasNoBody() {
        EmbeddedChannel ch = new EmbeddedChannel(new UpstreamCodec(UpstreamCodec.decoderConfig(8192)));
        ch.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.HEAD, "/", Unpooled.EMPTY_BUFFER));
        releaseOutbound(ch);
        Decoded ours = read(ch, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, false);
        assertFalse(ours.plain);
        assertEquals(List.of("head 200 OK HTTP/1.1 ok [Content-Length: 5]", "last  ok []"), ours.objects);
    }

    private record Decoded(List<String> objects, boolean plain) {
    }

    /**
     * Decodes {@code response} with the codec and with Netty's own decoder, whole and then a byte at a time, the
     * connection closed after it when {@code close}; when {@code same}, asserts that both made the same objects.
     * Returns the codec's two results.
     */
    private static List<Decoded> decodedAsNettyDecodes(String response, boolean close, boolean same) {
        List<Decoded> ours = new ArrayList<>();
        for (boolean byteAtATime : new boolean[] {false, true}) {
            Decoded codec = decode(new UpstreamCodec(UpstreamCodec.decoderConfig(8192)), response, byteAtATime, close);
            Decoded nettys = decode(new HttpResponseDecoder(UpstreamCodec.decoderConfig(8192)), response, byteAtATime, close);
            assertFalse(nettys.plain, "Netty's decoder makes String values: " + response);
            if (same) {
                assertEquals(nettys.objects, codec.objects, response + (byteAtATime ? " (a byte at a time)" : " (whole)"));
            }
            ours.add(codec);
        }
        return ours;
    }

    private static Decoded decode(io.netty.channel.ChannelHandler decoder, String response, boolean byteAtATime, boolean close) {
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        if (decoder instanceof UpstreamCodec) {
            for (int i = 0; i < 2; i++) { // two, for the cases with two answers
                ch.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/", Unpooled.EMPTY_BUFFER));
            }
            releaseOutbound(ch);
        }
        return read(ch, response, byteAtATime, close);
    }

    private static void releaseOutbound(EmbeddedChannel ch) {
        Object sent;
        while ((sent = ch.readOutbound()) != null) {
            ReferenceCountUtil.release(sent);
        }
    }

    /** Feeds {@code response} in, then reads every object out: kind, result, head or content, in order. */
    private static Decoded read(EmbeddedChannel ch, String response, boolean byteAtATime, boolean close) {
        byte[] b = response.getBytes(StandardCharsets.ISO_8859_1);
        if (byteAtATime) {
            for (byte x : b) {
                ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {x}));
            }
        } else {
            ch.writeInbound(Unpooled.wrappedBuffer(b));
        }
        if (close) {
            ch.finish();
        }
        List<String> objects = new ArrayList<>();
        boolean plain = false;
        Object o;
        while ((o = ch.readInbound()) != null) {
            if (o instanceof ByteBuf raw) { // after a switch of protocols Netty's decoder passes the bytes on as they are
                String text = raw.toString(StandardCharsets.ISO_8859_1);
                raw.release();
                int lastIndex = objects.size() - 1;
                if (lastIndex >= 0 && objects.get(lastIndex).startsWith("raw ")) {
                    objects.set(lastIndex, objects.get(lastIndex) + text); // however the reads split them
                } else {
                    objects.add("raw " + text);
                }
                continue;
            }
            HttpObject http = (HttpObject) o;
            String result = http.decoderResult().isSuccess() ? "ok" : "failed";
            if (o instanceof HttpResponse res) {
                List<String> fields = new ArrayList<>();
                for (Iterator<Map.Entry<CharSequence, CharSequence>> it = res.headers().iteratorCharSequence(); it.hasNext(); ) {
                    Map.Entry<CharSequence, CharSequence> e = it.next();
                    fields.add(e.getKey() + ": " + e.getValue());
                    plain |= e.getValue() instanceof AsciiString;
                }
                objects.add("head " + res.status().code() + " " + res.status().reasonPhrase() + " " + res.protocolVersion() + " " + result + " "
                        + fields);
            }
            if (o instanceof HttpContent content) {
                List<String> trailers = new ArrayList<>();
                if (o instanceof LastHttpContent last) {
                    last.trailingHeaders().forEach(e -> trailers.add(e.getKey() + ": " + e.getValue()));
                }
                objects.add((o instanceof LastHttpContent ? "last " : "content ") + content.content().toString(StandardCharsets.ISO_8859_1)
                        + " " + result + " " + trailers);
            }
            ReferenceCountUtil.release(o);
        }
        ch.finishAndReleaseAll();
        return new Decoded(objects, plain);
    }
}

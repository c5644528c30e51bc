package io.outrigger.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequestEncoder;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link HeadWriter} writes what Netty's encoders write, byte for byte, and owns what it is given as they do. */
class HeadWriterTest {
    /** Headers as the sidecar forwards them: names and values of every kind, checks off so odd characters can be set. */
    private static final DefaultHttpHeadersFactory UNCHECKED = DefaultHttpHeadersFactory.headersFactory()
            .withNameValidation(false).withValueValidation(false);

    @Test
    void writesARequestAsNettysEncoderDoes() {
        for (int fields : new int[] {0, 1, 8, 200}) { // 200 fields outgrow the first scratch array
            for (int body : new int[] {0, 1, HeadWriter.MERGED_BODY, HeadWriter.MERGED_BODY + 1, 70_000}) {
                for (HttpVersion version : new HttpVersion[] {HttpVersion.HTTP_1_1, HttpVersion.HTTP_1_0}) {
                    int f = fields;
                    int b = body;
                    Supplier<FullHttpRequest> request = () -> {
                        FullHttpRequest r = new DefaultFullHttpRequest(version, HttpMethod.POST, "/a/b?c=d&e=%20f",
                                bytes(b), UNCHECKED, UNCHECKED);
                        fill(r, f);
                        return r;
                    };
                    assertSame(request, true);
                }
            }
        }
    }

    @Test
    void writesAResponseAsNettysEncoderDoes() {
        for (int fields : new int[] {0, 3, 300}) {
            for (int body : new int[] {0, 612, HeadWriter.MERGED_BODY + 1}) {
                for (HttpResponseStatus status : new HttpResponseStatus[] {HttpResponseStatus.OK, HttpResponseStatus.SERVICE_UNAVAILABLE,
                        new HttpResponseStatus(299, "Quite Fine \u00e9"), new HttpResponseStatus(418, "\u20ac uro")}) {
                    int f = fields;
                    int b = body;
                    Supplier<FullHttpResponse> response = () -> {
                        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, bytes(b), UNCHECKED, UNCHECKED);
                        fill(r, f);
                        return r;
                    };
                    assertSame(response, false);
                }
            }
        }
    }

    @Test
    void oneHeadLongerThanTheKeptArrayIsWrittenWhole() {
        String big = "v".repeat(HeadWriter.KEPT * 2);
        Supplier<FullHttpResponse> response = () -> {
            FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, bytes(3), UNCHECKED, UNCHECKED);
            r.headers().add("set-cookie", big);
            return r;
        };
        assertSame(response, false);
        assertSame(response, false); // and the next head on the thread, with whatever array was kept
    }

    /**
     * A head without fields whose start line fills the scratch array to its last byte, or all but one: the empty line
     * after it needs two more. Run on a thread of its own, so the array is the first one (1024 bytes) whatever ran before.
     */
    @Test
    void aHeadWithoutFieldsWhoseStartLineFillsTheArrayIsWrittenWhole() throws Exception {
        java.util.concurrent.atomic.AtomicReference<Throwable> failed = new java.util.concurrent.atomic.AtomicReference<>();
        Thread t = new io.netty.util.concurrent.FastThreadLocalThread(() -> {
            try {
                for (int fill = 0; fill <= 2; fill++) {
                    // "GET " + target + " HTTP/1.1\r\n" is 15 bytes more than the target: 1024 - fill in all
                    String target = "/" + "t".repeat(1024 - 15 - 1 - fill);
                    assertSame(() -> new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, target, bytes(0),
                            UNCHECKED, UNCHECKED), true);
                    // "HTTP/1.1 200 " + reason + "\r\n" is 15 bytes more than the reason
                    HttpResponseStatus status = new HttpResponseStatus(200, "r".repeat(1024 - 15 - fill));
                    assertSame(() -> new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, bytes(1), UNCHECKED, UNCHECKED), false);
                }
            } catch (Throwable e) {
                failed.set(e);
            }
        });
        t.start();
        t.join(30_000);
        assertFalse(t.isAlive());
        if (failed.get() != null) {
            throw new AssertionError(failed.get());
        }
    }

    @Test
    void leavesATargetNotInOriginFormOrNotAsciiToNettysEncoder() {
        for (String uri : new String[] {"http://b/x", "*", "", "/caf\u00e9"}) {
            FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, uri, bytes(2));
            List<Object> out = new ArrayList<>();
            assertFalse(HeadWriter.request(ByteBufAllocator.DEFAULT, r, out), uri);
            assertTrue(out.isEmpty());
            assertEquals(1, r.refCnt(), "untouched: Netty's encoder releases it");
            r.release();
        }
    }

    /** The bytes and the buffers' ownership: what HeadWriter hands on is all that is left of the message. */
    private static void assertSame(Supplier<? extends FullHttpMessage> message, boolean request) {
        EmbeddedChannel netty = new EmbeddedChannel(request ? new HttpRequestEncoder() : new HttpResponseEncoder());
        netty.writeOutbound(message.get());
        byte[] expected = drain(netty.outboundMessages());
        netty.finishAndReleaseAll();

        FullHttpMessage msg = message.get();
        List<Object> out = new ArrayList<>();
        if (request) {
            assertTrue(HeadWriter.request(ByteBufAllocator.DEFAULT, (FullHttpRequest) msg, out));
        } else {
            HeadWriter.response(ByteBufAllocator.DEFAULT, (FullHttpResponse) msg, out);
        }
        byte[] written = drain(out);
        assertEquals(0, msg.refCnt(), "the message is released, and a body handed on separately once its buffer is");
        assertArrayEquals(expected, written, () -> new String(expected, StandardCharsets.ISO_8859_1));
    }

    private static byte[] drain(Collection<Object> buffers) {
        List<byte[]> parts = new ArrayList<>();
        int total = 0;
        for (Object o : buffers) {
            ByteBuf b = (ByteBuf) o;
            byte[] part = new byte[b.readableBytes()];
            b.readBytes(part);
            parts.add(part);
            total += part.length;
            ReferenceCountUtil.release(b);
        }
        byte[] all = new byte[total];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        buffers.clear();
        return all;
    }

    private static ByteBuf bytes(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) ('a' + i % 26);
        }
        return Unpooled.buffer(n).writeBytes(b); // a real buffer even when empty: its release is checked
    }

    /** {@code n} fields of every kind: String and AsciiString names and values, Latin-1 and wider characters, repeats. */
    private static void fill(FullHttpMessage m, int n) {
        m.headers().add(AsciiString.cached("content-length"), String.valueOf(m.content().readableBytes()));
        for (int i = 0; i < n; i++) {
            switch (i % 5) {
                case 0 -> m.headers().add("x-plain-" + i, "value " + i);
                case 1 -> m.headers().add(AsciiString.of("x-ascii-" + i), AsciiString.of("ascii value " + i));
                case 2 -> m.headers().add("x-latin", "caf\u00e9 \u00ff " + i);
                case 3 -> m.headers().add("x-wide", "\u20ac\u4e2d " + i); // above U+00FF: '?' as Netty writes it
                default -> m.headers().add("X-Mixed-Case", new StringBuilder("builder ").append(i));
            }
        }
    }
}

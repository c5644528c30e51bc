package io.outrigger.upstream;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Values off the wire are checked; the sidecar's own ({@link AsciiString}s it made) are not checked again. */
class OwnHeaderValuesTest {

    @Test
    void onlyTheSidecarsOwnValuesSkipTheCheck() {
        List<CharSequence> checked = new ArrayList<>();
        HttpHeaders headers = OwnHeaderValues.on(DefaultHttpHeadersFactory.headersFactory().withValueValidator(checked::add)).newHeaders();
        AsciiString own = new AsciiString("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        headers.set("traceparent", own);
        headers.set("x-request-id", "from-a-client");
        headers.add("via", new StringBuilder("1.1 other"));
        assertEquals(List.of("from-a-client", "1.1 other"), checked.stream().map(CharSequence::toString).toList());
    }

    @Test
    void aValueWithAControlCharacterIsStillRefusedUnlessTheSidecarMadeIt() {
        HttpHeaders headers = OwnHeaderValues.on(DefaultHttpHeadersFactory.headersFactory()).newHeaders();
        assertThrows(IllegalArgumentException.class, () -> headers.set("x-a", "a\r\nInjected: yes"));
        assertThrows(IllegalArgumentException.class, () -> headers.add("x-a", "a\u0000b"));
        headers.set("x-request-id", new AsciiString("3f1c7a52-5e2b-4c1e-9d1a-0b6e2f9c8a41"));
        assertEquals("3f1c7a52-5e2b-4c1e-9d1a-0b6e2f9c8a41", headers.get("x-request-id"));
    }

    /** The response decoder makes every value a String, so an instance's bad value is still caught: the head fails. */
    @Test
    void theResponseDecoderStillRefusesAnInstancesControlCharacter() {
        EmbeddedChannel ch = new EmbeddedChannel(new UpstreamCodec(UpstreamCodec.decoderConfig(8192)));
        ch.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/", Unpooled.EMPTY_BUFFER));
        Object sent;
        while ((sent = ch.readOutbound()) != null) {
            ReferenceCountUtil.release(sent);
        }
        ch.writeInbound(Unpooled.wrappedBuffer("HTTP/1.1 200 OK\r\nX-Bad: a\u0000b\r\nContent-Length: 0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1)));
        HttpResponse head = assertInstanceOf(HttpResponse.class, ch.readInbound());
        assertTrue(head.decoderResult().isFailure(), head.decoderResult().toString());
        ReferenceCountUtil.release(head);
        ch.finishAndReleaseAll();
    }
}

package io.outrigger.http;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import io.outrigger.config.ConfigLoader;
import io.outrigger.config.SidecarConfig;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OwnHeaderNamesTest {
    private final List<CharSequence> checked = new ArrayList<>();
    private final OwnHeaderNames names = new OwnHeaderNames(checked::add);

    @Test
    void theNamesTheSidecarSetsAreNotCheckedAgain() {
        names.validateName(ProxyExchange.X_REQUEST_ID);
        names.validateName(ProxyExchange.TRACEPARENT);
        names.validateName(ForwardedRequest.X_FORWARDED_FOR);
        names.validateName(HttpHeaderNames.VIA);
        assertEquals(List.of(), checked);
    }

    /** Recognised by identity: the same name from a client is a different object, and is checked. */
    @Test
    void aClientsNameIsCheckedEvenWhenItSpellsOneOfTheSidecars() {
        AsciiString clients = new AsciiString("x-request-id");
        names.validateName(clients);
        names.validateName("traceparent");
        assertEquals(List.of(clients, "traceparent"), checked);
        assertThrows(IllegalArgumentException.class, () -> OwnHeaderNames.HEADERS.getNameValidator().validateName("B@d"));
    }

    /** The listeners' decoder still refuses a client's header name that is not a token. */
    @Test
    void theListenersDecoderStillRefusesANameThatIsNotAToken() throws Exception {
        for (String name : new String[] {"B@d", "B{d}", "Na/me", "N\u00e9me"}) {
            assertTheListenersDecoderRefuses(name + ": x");
        }
    }

    /** The values of a client's head are still checked: the sidecar skips the check for its own values only (OwnHeaderValues). */
    @Test
    void theListenersDecoderStillRefusesAClientsControlCharacterInAValue() throws Exception {
        for (String value : new String[] {"a\u0000b", "a\u0001b", "a\u007fb"}) {
            assertTheListenersDecoderRefuses("X-Value: " + value);
        }
    }

    private static void assertTheListenersDecoderRefuses(String fieldLine) throws Exception {
        SidecarConfig cfg = ConfigLoader.parse("name: t\nservice: s\n", "test");
        EmbeddedChannel ch = new EmbeddedChannel(new HttpListenerCodec(HttpProxyInitializer.decoderConfig(cfg.http())));
        ch.writeInbound(Unpooled.wrappedBuffer(("GET / HTTP/1.1\r\nHost: b\r\n" + fieldLine + "\r\n\r\n")
                .getBytes(StandardCharsets.ISO_8859_1)));
        HttpRequest req = assertInstanceOf(HttpRequest.class, ch.readInbound());
        assertTrue(req.decoderResult().isFailure(), fieldLine);
        ReferenceCountUtil.release(req);
        ch.finishAndReleaseAll();
    }
}

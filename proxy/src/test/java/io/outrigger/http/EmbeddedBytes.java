package io.outrigger.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;

import java.nio.charset.StandardCharsets;

/** Bytes in and out of an {@link EmbeddedChannel} as ASCII text, for pipeline tests. */
public final class EmbeddedBytes {
    private EmbeddedBytes() {
    }

    public static ByteBuf ascii(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
    }

    /** Everything the channel wrote so far, as text; the buffers are released. */
    public static String outbound(EmbeddedChannel ch) {
        StringBuilder out = new StringBuilder();
        ByteBuf b;
        while ((b = ch.readOutbound()) != null) {
            out.append(b.toString(StandardCharsets.US_ASCII));
            b.release();
        }
        return out.toString();
    }
}

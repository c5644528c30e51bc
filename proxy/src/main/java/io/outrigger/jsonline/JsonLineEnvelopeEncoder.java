package io.outrigger.jsonline;

import com.fasterxml.jackson.core.JsonGenerator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;

import java.io.IOException;

/**
 * Writes a {@link Reply} as one line of compact JSON: {@code {"src":..,"dest":..,"body":{..}}\n},
 * keys in exactly that order and the body's fields in insertion order.
 *
 * <pre>
 *   Reply --> [JsonLineEnvelopeEncoder] --> ByteBuf (one line, '\n' terminated)
 * </pre>
 *
 * Stateless and {@link Sharable}.
 */
@Sharable
public final class JsonLineEnvelopeEncoder extends MessageToByteEncoder<Reply> {
    public static final JsonLineEnvelopeEncoder INSTANCE = new JsonLineEnvelopeEncoder();

    private JsonLineEnvelopeEncoder() {
        super(Reply.class);
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, Reply reply, ByteBuf out) throws IOException {
        try (JsonGenerator g = Json.FACTORY.createGenerator((java.io.OutputStream) new ByteBufOutputStream(out))) {
            g.writeStartObject();
            g.writeStringField("src", reply.src());
            g.writeStringField("dest", reply.dest());
            g.writeFieldName("body");
            Json.write(g, reply.body());
            g.writeEndObject();
        }
        out.writeByte('\n');
    }
}

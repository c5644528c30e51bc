package io.outrigger.jsonline;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.outrigger.config.JsonErrors;

import java.io.IOException;

/**
 * Parses each line into a {@link Request}, or a {@link BadLine} saying what is wrong with it.
 *
 * <pre>
 *   ByteBuf line | OversizedLine --> [JsonLineEnvelopeDecoder] --> Request | BadLine
 * </pre>
 *
 * A line must be UTF-8 (see {@link Json#parse(ByteBuf)}); one that is not is a {@link BadLine} like one that is
 * not JSON. Checks the envelope only: a JSON object with an object {@code body} holding an integer
 * {@code msg_id} (written as one: {@code 8.0} is malformed, though answered as 8, see {@link Json#integral})
 * and a string {@code type}; string {@code src}/{@code dest} and a boolean
 * {@code proxy} when present (the envelope's {@code proxy} flag means what the body's does:
 * the call goes through the sidecar, as every call does). Releases every line it reads. Stateless and {@link Sharable}.
 */
@Sharable
public final class JsonLineEnvelopeDecoder extends ChannelInboundHandlerAdapter {
    public static final JsonLineEnvelopeDecoder INSTANCE = new JsonLineEnvelopeDecoder();

    private JsonLineEnvelopeDecoder() {
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf) {
            ByteBuf line = (ByteBuf) msg;
            Object decoded;
            try {
                decoded = decode(line);
            } finally {
                line.release();
            }
            if (decoded != null) {
                ctx.fireChannelRead(decoded);
            }
        } else if (msg instanceof OversizedLine) {
            OversizedLine over = (OversizedLine) msg;
            Json.Salvage s = over.salvage();
            ctx.fireChannelRead(new BadLine(s.src(), s.dest(), s.msgId(), "line of " + over.length()
                    + " bytes is longer than the limit of " + over.limit() + " bytes"));
        } else {
            ctx.fireChannelRead(msg);
        }
    }

    /** A {@link Request}, a {@link BadLine}, or null for a blank line (a UTF-8 byte order mark and white space): ignored. */
    static Object decode(ByteBuf line) {
        JsonNode root;
        try {
            root = Json.parse(line);
        } catch (IOException e) {
            Json.Salvage s = Json.salvage(line);
            if (e instanceof Json.NotUtf8Exception) {
                return new BadLine(s.src(), s.dest(), s.msgId(), e.getMessage());
            }
            String why = e instanceof JsonProcessingException ? ((JsonProcessingException) e).getOriginalMessage() : e.toString();
            return new BadLine(s.src(), s.dest(), s.msgId(), "not valid JSON (" + JsonErrors.firstLine(why) + ")");
        }
        if (root == null) {
            return null;
        }
        if (!root.isObject()) {
            return new BadLine(null, null, null, "a JSON " + root.getNodeType().name().toLowerCase(java.util.Locale.ROOT)
                    + " (expected: an object {\"src\", \"dest\", \"body\"})");
        }
        JsonNode srcNode = root.get("src");
        JsonNode destNode = root.get("dest");
        String src = srcNode != null && srcNode.isTextual() ? srcNode.textValue() : null;
        String dest = destNode != null && destNode.isTextual() ? destNode.textValue() : null;
        JsonNode body = root.get("body");
        if (body == null || !body.isObject()) {
            return new BadLine(src, dest, null, body == null ? "body: missing (expected: an object)"
                    : "body: " + Fields.show(body) + " (expected: an object)");
        }
        JsonNode id = body.get("msg_id");
        if (id == null || !id.isIntegralNumber() || !id.canConvertToLong()) {
            return new BadLine(src, dest, id != null && id.isNumber() ? Json.integral(id.decimalValue()) : null,
                    id == null ? "body.msg_id: missing (expected: an integer)"
                    : "body.msg_id: " + Fields.show(id) + " (expected: " + msgIdExpectation(id) + ")");
        }
        long msgId = id.longValue();
        String problem = checkEnvelope(root, srcNode, destNode, body.get("type"));
        if (problem != null) {
            return new BadLine(src, dest, msgId, problem);
        }
        return new Request(src, dest, msgId, body.get("type").textValue(), (ObjectNode) body);
    }

    /**
     * What a msg_id should have been, worded for the way it is wrong: a number with an integral value
     * written with a fraction or exponent ({@code 9.223372036854775807e18}, shown as
     * {@code 9223372036854775807}) or one out of range, however written ({@code 1e400}), would look
     * like an integer in a bare "expected: an integer".
     */
    private static String msgIdExpectation(JsonNode id) {
        String range = "an integer from " + Long.MIN_VALUE + " to " + Long.MAX_VALUE;
        if (id.isIntegralNumber()) {
            return range;
        }
        if (!id.isNumber()) {
            return "an integer";
        }
        java.math.BigDecimal value = id.decimalValue();
        boolean whole = value.signum() == 0 || value.stripTrailingZeros().scale() <= 0;
        return whole && Json.integral(value) == null ? range : "an integer, written without a fraction or an exponent";
    }

    private static String checkEnvelope(JsonNode root, JsonNode src, JsonNode dest, JsonNode type) {
        if (type == null || !type.isTextual()) {
            return type == null ? "body.type: missing (expected: a string)" : "body.type: " + Fields.show(type) + " (expected: a string)";
        }
        if (src != null && !src.isTextual() && !src.isNull()) {
            return "src: " + Fields.show(src) + " (expected: a string)";
        }
        if (dest != null && !dest.isTextual() && !dest.isNull()) {
            return "dest: " + Fields.show(dest) + " (expected: a string)";
        }
        JsonNode proxy = root.get("proxy");
        if (proxy != null && !proxy.isBoolean() && !proxy.isNull()) {
            return "proxy: " + Fields.show(proxy) + " (expected: true or false)";
        }
        return null;
    }
}

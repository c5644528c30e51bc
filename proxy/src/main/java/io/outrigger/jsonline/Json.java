package io.outrigger.jsonline;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;

import java.io.IOException;
import java.util.Iterator;
import java.util.Map;

/** The Jackson set-up of the line-JSON edge: one shared, thread-safe mapper. */
final class Json {
    /** Rejects trailing content after the envelope ({@code {..} x}), which readTree allows by default. */
    static final ObjectMapper MAPPER = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private Json() {
    }

    /** Parses one line; the buffer is not released. */
    static JsonNode parse(ByteBuf line) throws IOException {
        if (line.hasArray()) {
            return MAPPER.readTree(line.array(), line.arrayOffset() + line.readerIndex(), line.readableBytes());
        }
        return MAPPER.readTree(ByteBufUtil.getBytes(line));
    }

    /**
     * Writes a tree compactly, fields in insertion order. Straight to the generator: going
     * through the mapper would build a serializer provider for every reply.
     */
    static void write(JsonGenerator g, JsonNode node) throws IOException {
        switch (node.getNodeType()) {
            case OBJECT -> {
                g.writeStartObject();
                for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    g.writeFieldName(e.getKey());
                    write(g, e.getValue());
                }
                g.writeEndObject();
            }
            case ARRAY -> {
                g.writeStartArray();
                for (JsonNode element : node) {
                    write(g, element);
                }
                g.writeEndArray();
            }
            case STRING -> g.writeString(node.textValue());
            case NUMBER -> {
                if (node.canConvertToLong() && node.isIntegralNumber()) {
                    g.writeNumber(node.longValue());
                } else {
                    g.writeNumber(node.decimalValue());
                }
            }
            case BOOLEAN -> g.writeBoolean(node.booleanValue());
            default -> g.writeNull();
        }
    }

    /** What a broken or cut-off line still tells: where it came from and which message it was. */
    record Salvage(String src, String dest, Long msgId) {
    }

    /**
     * Reads {@code src}, {@code dest} and {@code body.msg_id} from the start of a line that is not
     * valid JSON (or was cut short), stopping at the first syntax error.
     */
    static Salvage salvage(byte[] bytes) {
        String src = null;
        String dest = null;
        Long msgId = null;
        try (JsonParser p = MAPPER.getFactory().createParser(bytes)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return new Salvage(null, null, null);
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken t = p.nextToken();
                if ("src".equals(name) && t == JsonToken.VALUE_STRING) {
                    src = p.getText();
                } else if ("dest".equals(name) && t == JsonToken.VALUE_STRING) {
                    dest = p.getText();
                } else if ("body".equals(name) && t == JsonToken.START_OBJECT) {
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String field = p.currentName();
                        if (p.nextToken() == JsonToken.VALUE_NUMBER_INT && "msg_id".equals(field)) {
                            msgId = p.getLongValue();
                        } else {
                            p.skipChildren();
                        }
                    }
                } else {
                    p.skipChildren();
                }
            }
        } catch (IOException e) {
            // Expected: the line is broken or cut short somewhere; keep what was read before that.
        }
        return new Salvage(src, dest, msgId);
    }
}

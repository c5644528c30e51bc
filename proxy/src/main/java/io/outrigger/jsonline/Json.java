package io.outrigger.jsonline;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;

import java.io.IOException;
import java.util.Iterator;
import java.util.Map;

/**
 * JSON for the line-JSON edge on Jackson's streaming API: trees are built and written here
 * rather than through an {@code ObjectMapper}, whose start-up (hundreds of classes) would
 * dominate the stdin node's cold start and whose per-call set-up would cost on every line.
 * Thread-safe.
 */
final class Json {
    static final JsonFactory FACTORY = new JsonFactory();
    static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private Json() {
    }

    /** Parses one line holding exactly one JSON value; the buffer is not released. */
    static JsonNode parse(ByteBuf line) throws IOException {
        return line.hasArray()
                ? parse(line.array(), line.arrayOffset() + line.readerIndex(), line.readableBytes())
                : parse(ByteBufUtil.getBytes(line), 0, line.readableBytes());
    }

    /** Parses {@code length} bytes from {@code offset} holding exactly one JSON value. */
    static JsonNode parse(byte[] bytes, int offset, int length) throws IOException {
        try (JsonParser p = FACTORY.createParser(bytes, offset, length)) {
            JsonToken first = p.nextToken();
            if (first == null) {
                throw new JsonParseException(p, "no JSON value");
            }
            JsonNode root = read(p, first);
            if (p.nextToken() != null) {
                throw new JsonParseException(p, "trailing content after the JSON value");
            }
            return root;
        }
    }

    /** Reads the value starting at {@code t}; nesting depth is bounded by the parser's read constraints. */
    private static JsonNode read(JsonParser p, JsonToken t) throws IOException {
        switch (t) {
            case START_OBJECT: {
                ObjectNode o = NODES.objectNode();
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    o.set(name, read(p, p.nextToken()));
                }
                return o;
            }
            case START_ARRAY: {
                ArrayNode a = NODES.arrayNode();
                for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) {
                    a.add(read(p, e));
                }
                return a;
            }
            case VALUE_STRING:
                return NODES.textNode(p.getText());
            case VALUE_NUMBER_INT:
                switch (p.getNumberType()) {
                    case INT:
                        return NODES.numberNode(p.getIntValue());
                    case LONG:
                        return NODES.numberNode(p.getLongValue());
                    default:
                        return NODES.numberNode(p.getBigIntegerValue());
                }
            case VALUE_NUMBER_FLOAT:
                return NODES.numberNode(p.getDecimalValue());
            case VALUE_TRUE:
                return NODES.booleanNode(true);
            case VALUE_FALSE:
                return NODES.booleanNode(false);
            case VALUE_NULL:
                return NODES.nullNode();
            default:
                throw new JsonParseException(p, "unexpected token " + t);
        }
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
        try (JsonParser p = FACTORY.createParser(bytes)) {
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

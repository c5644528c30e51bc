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
import io.netty.util.ByteProcessor;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Locale;
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

    /** Bytes 0x01..0x7F: a line of only these is read by Jackson as the ASCII it is, with nothing to guess. */
    private static final ByteProcessor PLAIN_ASCII = new ByteProcessor() {
        @Override
        public boolean process(byte value) {
            return value > 0;
        }
    };

    /** A line that is not UTF-8. */
    static final class NotUtf8Exception extends IOException {
        NotUtf8Exception(String where) {
            super("not valid UTF-8 (" + where + ")");
        }
    }

    /**
     * Parses one line holding exactly one JSON value in UTF-8; the buffer is not released.
     *
     * <p>Strict UTF-8: given bytes, Jackson guesses their encoding (a line starting {@code FF FE} is read as
     * UTF-16, zero bytes among the first four as UTF-16 or UTF-32) and accepts overlong forms ({@code C0 AF}
     * for {@code /}) and code points past U+10FFFF. So only a line of plain ASCII without NUL (nearly every
     * line; no guess can take it for anything else) goes to Jackson as bytes; any other is first decoded by a
     * reporting {@link CharsetDecoder} and parsed as chars (about 40% slower than bytes: the fast path keeps
     * the common line at the cost of one scan).
     *
     * @return the value, or null for a line that is blank once its byte order mark is skipped (the frame
     *         decoder drops blank lines, but sees the mark as content)
     * @throws NotUtf8Exception when the line is not UTF-8
     */
    static JsonNode parse(ByteBuf line) throws IOException {
        if (line.forEachByte(PLAIN_ASCII) < 0) {
            return line.hasArray()
                    ? parseAscii(line.array(), line.arrayOffset() + line.readerIndex(), line.readableBytes())
                    : parseAscii(ByteBufUtil.getBytes(line), 0, line.readableBytes());
        }
        Text text = utf8(line);
        if (text.error() != null) {
            throw new NotUtf8Exception(text.error());
        }
        if (isBlank(text)) {
            return null;
        }
        try (JsonParser p = FACTORY.createParser(text.chars(), 0, text.length())) {
            return readOne(p);
        }
    }

    /** Whether a text holds only the white space a blank line may (as the frame decoder counts it: space, tab, CR). */
    private static boolean isBlank(Text text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.chars()[i];
            if (c != ' ' && c != '\t' && c != '\r') {
                return false;
            }
        }
        return true;
    }

    /** Parses bytes holding exactly one JSON value, known to be plain ASCII without NUL (else Jackson guesses their encoding). */
    static JsonNode parseAscii(byte[] bytes, int offset, int length) throws IOException {
        try (JsonParser p = FACTORY.createParser(bytes, offset, length)) {
            return readOne(p);
        }
    }

    private static JsonNode readOne(JsonParser p) throws IOException {
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

    /**
     * A line decoded strictly as UTF-8: {@code chars[0..length)} is its text, or, when {@code error} is not
     * null, the text before the first byte that is not UTF-8.
     *
     * @param error null, or what is wrong and where, such as {@code byte 0xC0 at offset 12}
     */
    record Text(char[] chars, int length, String error) {
    }

    /**
     * Decodes bytes as UTF-8, refusing what is not: bytes no UTF-8 holds ({@code FF}), overlong forms,
     * encoded surrogates, code points past U+10FFFF, a sequence cut short. A UTF-8 byte order mark at the
     * start is skipped: each line is a JSON text, and RFC 8259 lets a parser ignore one there (so a file an
     * editor saved with one still works). The buffer's indexes are not moved.
     */
    static Text utf8(ByteBuf bytes) {
        ByteBuffer in = bytes.nioBuffer();
        char[] chars = new char[in.remaining()];
        CharBuffer out = CharBuffer.wrap(chars);
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder(); // REPORTs malformed input; not thread-safe
        CoderResult r = decoder.decode(in, out, true);
        if (!r.isError()) {
            r = decoder.flush(out);
        }
        String error = r.isError() ? String.format(Locale.ROOT, "byte 0x%02X at offset %d", in.get(in.position()) & 0xFF, in.position()) : null;
        int length = out.position();
        if (length > 0 && chars[0] == '\uFEFF') {
            System.arraycopy(chars, 1, chars, 0, --length);
        }
        return new Text(chars, length, error);
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

    /**
     * The {@code msg_id} an error reply can answer, read from a {@code msg_id} that is not a valid one: a number
     * whose value is an integer in the 64-bit range, however written ({@code 8.0} is 8, {@code 1e3} is 1000),
     * so a harness that sent it gets its error rather than a silence; null for any other ({@code 8.5},
     * {@code 2^63}). A string ({@code "7"}) is never read: {@code in_reply_to} is a number, and a harness that
     * sent a string would not match one to its request.
     */
    static Long integral(BigDecimal value) {
        try {
            return value.longValueExact();
        } catch (ArithmeticException e) {
            return null; // a fraction, or out of range
        }
    }

    /** What a broken or cut-off line still tells: where it came from and which message it was. */
    record Salvage(String src, String dest, Long msgId) {
    }

    /**
     * Reads {@code src}, {@code dest} and {@code body.msg_id} from the start of a line that is not
     * valid JSON, stopping at the first syntax error. (A line too long to parse is read by {@link EnvelopeScanner}.)
     */
    static Salvage salvage(ByteBuf line) {
        Text text = utf8(line); // when it is not UTF-8, the text before that
        String src = null;
        String dest = null;
        Long msgId = null;
        try (JsonParser p = FACTORY.createParser(text.chars(), 0, text.length())) {
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
                        JsonToken v = p.nextToken();
                        if ((v == JsonToken.VALUE_NUMBER_INT || v == JsonToken.VALUE_NUMBER_FLOAT) && "msg_id".equals(field)) {
                            msgId = integral(p.getDecimalValue());
                        } else {
                            p.skipChildren();
                        }
                    }
                } else {
                    p.skipChildren();
                }
            }
        } catch (IOException e) {
            // Expected: the line is broken somewhere; keep what was read before that.
        }
        return new Salvage(src, dest, msgId);
    }
}

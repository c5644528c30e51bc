package io.outrigger.jsonline;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.buffer.Unpooled;
import io.netty.util.ByteProcessor;

import java.io.ByteArrayOutputStream;
import java.io.IOException;

/**
 * Reads {@code src}, {@code dest} and {@code body.msg_id} from a line too long to be parsed, as its bytes pass
 * through the frame decoder, keeping none of them but those values: the spec rejects such a line "with code 12",
 * so its {@code msg_id} is answered wherever in the line it comes (after a 2 MiB {@code pad}, say), and the reply's
 * {@code src} is its {@code dest} even when that follows the body.
 *
 * <pre>
 *   bytes of the skipped line --> [EnvelopeScanner] --> Json.Salvage (src, dest, msg_id; each null when not read)
 * </pre>
 *
 * Tracks only nesting and strings: the keys of the top-level object and of its {@code body} object, and the values
 * that matter, each read as {@link Json#salvage} reads it from a broken line ({@code src}/{@code dest} strings, a
 * {@code msg_id} number with an integral value, its digits ending at the first byte no number holds). Not a
 * validator: a line that is not JSON further on is read the same. A value longer than {@code maxValueBytes} is not
 * kept. Not thread-safe: one line at a time, on the channel's event loop.
 */
final class EnvelopeScanner implements ByteProcessor {
    /** The longest number Jackson reads (its default {@code StreamReadConstraints}). */
    private static final int MAX_NUMBER_BYTES = 1000;
    /** Longer than any key of interest, even written with escapes ({@code "msg\u005fid"}). */
    private static final int MAX_KEY_BYTES = 64;
    private static final byte[] BOM = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};

    private enum Field { NONE, SRC, DEST, BODY, MSG_ID }

    private final int maxValueBytes;
    private long offset;
    private boolean started;
    private boolean done;
    /** Containers open: 1 inside the top-level object. */
    private int depth;
    /** Depth 2 is the top-level {@code body} object. */
    private boolean inBody;
    /** At a level of interest, the next string is a key. */
    private boolean expectKey;
    /** The value of interest that comes next (its key was just read). */
    private Field field = Field.NONE;
    private boolean inString;
    private boolean escaped;
    private boolean inNumber;
    /** The bytes of the key, string or number being kept; null when none is. */
    private ByteArrayOutputStream token;
    private boolean tokenIsKey;
    private int tokenLimit;
    private boolean tokenTooLong;

    private String src;
    private String dest;
    private Long msgId;

    /** @param maxValueBytes the longest {@code src} or {@code dest} kept, in bytes as written */
    EnvelopeScanner(int maxValueBytes) {
        this.maxValueBytes = maxValueBytes;
    }

    @Override
    public boolean process(byte b) {
        long at = offset++;
        if (done) {
            return false;
        }
        if (inString) {
            if (escaped) {
                escaped = false;
            } else if (b == '\\') {
                escaped = true;
            } else if (b == '"') {
                inString = false;
                endString();
                return true;
            }
            keep(b);
            return true;
        }
        if (inNumber) {
            if ((b >= '0' && b <= '9') || b == '.' || b == 'e' || b == 'E' || b == '+' || b == '-') {
                keep(b);
                return true;
            }
            endNumber();
        }
        if (!started) {
            if (at < BOM.length && b == BOM[(int) at]) {
                return true; // a byte order mark at the start, skipped as Json.parse skips it
            }
            if (isSpace(b)) {
                return true;
            }
            started = true;
            if (b != '{') {
                done = true; // not an object: nothing to read
                return false;
            }
            depth = 1;
            expectKey = true;
            return true;
        }
        switch (b) {
            case ' ', '\t', '\r', '\n' -> { }
            case '{', '[' -> open(b == '{');
            case '}', ']' -> close();
            case ',' -> {
                if (ofInterest()) {
                    expectKey = true;
                    field = Field.NONE;
                }
            }
            case ':' -> { }
            case '"' -> startString();
            default -> startOther(b);
        }
        return !done;
    }

    /** What was read: call once the line ended. */
    Json.Salvage result() {
        if (inNumber) {
            endNumber(); // the line ended right after its digits
        }
        return new Json.Salvage(src, dest, msgId);
    }

    private boolean ofInterest() {
        return depth == 1 || (depth == 2 && inBody);
    }

    private void open(boolean object) {
        if (depth == 1 && field == Field.BODY && object) {
            inBody = true;
        }
        if (ofInterest()) {
            field = Field.NONE;
        }
        depth++;
        if (object && ofInterest()) {
            expectKey = true;
        }
    }

    private void close() {
        depth--;
        if (depth <= 1) {
            inBody = false;
        }
        if (depth == 0) {
            done = true;
        } else if (ofInterest()) {
            field = Field.NONE;
        }
    }

    private void startString() {
        inString = true;
        if (!ofInterest()) {
            return;
        }
        if (expectKey) {
            startToken(true, MAX_KEY_BYTES);
        } else if (field == Field.SRC || field == Field.DEST) {
            startToken(false, maxValueBytes);
        } else {
            field = Field.NONE;
        }
    }

    private void endString() {
        if (token == null) {
            return;
        }
        String text = tokenTooLong ? null : decodeString(token.toByteArray());
        boolean key = tokenIsKey;
        token = null;
        if (key) {
            expectKey = false;
            field = text == null ? Field.NONE : fieldNamed(text);
        } else {
            if (text != null) {
                if (field == Field.SRC) {
                    src = text;
                } else {
                    dest = text;
                }
            }
            field = Field.NONE;
        }
    }

    private Field fieldNamed(String key) {
        if (depth == 1) {
            return switch (key) {
                case "src" -> Field.SRC;
                case "dest" -> Field.DEST;
                case "body" -> Field.BODY;
                default -> Field.NONE;
            };
        }
        return key.equals("msg_id") ? Field.MSG_ID : Field.NONE;
    }

    private void startOther(byte b) {
        if (ofInterest() && field == Field.MSG_ID && (b == '-' || (b >= '0' && b <= '9'))) {
            inNumber = true;
            startToken(false, MAX_NUMBER_BYTES);
            keep(b);
        } else if (ofInterest()) {
            field = Field.NONE; // true, false, null, or bytes no JSON holds
        }
    }

    private void endNumber() {
        inNumber = false;
        byte[] digits = token.toByteArray();
        boolean tooLong = tokenTooLong;
        token = null;
        field = Field.NONE;
        if (tooLong) {
            return;
        }
        try {
            JsonNode n = Json.parseAscii(digits, 0, digits.length);
            if (n.isNumber()) {
                msgId = Json.integral(n.decimalValue());
            }
        } catch (IOException e) {
            // Not a number after all (12e, 1-2): no msg_id, as Json.salvage reads none from it.
        }
    }

    private void startToken(boolean key, int limit) {
        token = new ByteArrayOutputStream(Math.min(limit, 64));
        tokenIsKey = key;
        tokenLimit = limit;
        tokenTooLong = false;
    }

    private void keep(byte b) {
        if (token == null || tokenTooLong) {
            return;
        }
        if (token.size() >= tokenLimit) {
            tokenTooLong = true;
            token.reset();
            return;
        }
        token.write(b);
    }

    /** The text of a JSON string's bytes (quotes excluded), strictly UTF-8 as a line is read; null when it is not one. */
    private static String decodeString(byte[] inner) {
        byte[] quoted = new byte[inner.length + 2];
        quoted[0] = '"';
        System.arraycopy(inner, 0, quoted, 1, inner.length);
        quoted[quoted.length - 1] = '"';
        try {
            JsonNode n = Json.parse(Unpooled.wrappedBuffer(quoted));
            return n != null && n.isTextual() ? n.textValue() : null;
        } catch (IOException e) {
            return null;
        }
    }

    private static boolean isSpace(byte b) {
        return b == ' ' || b == '\t' || b == '\r' || b == '\n';
    }
}

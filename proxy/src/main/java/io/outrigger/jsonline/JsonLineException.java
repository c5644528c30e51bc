package io.outrigger.jsonline;

/**
 * A request the node cannot serve, with the line-JSON error code to answer with; turned into
 * an {@code error} reply by {@link JsonLineErrors}. Carries no stack trace: it is a reply, not a bug.
 */
public final class JsonLineException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int code;

    public JsonLineException(int code, String text) {
        super(text, null, false, false);
        this.code = code;
    }

    /** A malformed request (code 12): a missing field or one of the wrong type. */
    public static JsonLineException malformed(String text) {
        return new JsonLineException(JsonLineErrors.MALFORMED_REQUEST, text);
    }

    public int code() {
        return code;
    }
}

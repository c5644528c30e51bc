package io.outrigger.jsonline;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.outrigger.time.Ticker;
import io.outrigger.time.WarnLimiter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where failures become line-JSON {@code error} replies:
 * {@code {"type":"error","in_reply_to":N,"code":C,"text":"..."}}.
 *
 * <p>Codes follow the harnesses' convention: 10 not supported, 12 malformed request, 13 crash
 * (an unexpected exception in a handler, logged with its stack trace). Thread-safe.
 */
public final class JsonLineErrors {
    /** An unknown message {@code type}. */
    public static final int NOT_SUPPORTED = 10;
    /** The request is malformed: not JSON, missing or mistyped fields, a line too long. */
    public static final int MALFORMED_REQUEST = 12;
    /** A handler failed unexpectedly. */
    public static final int CRASH = 13;

    private static final Logger log = LoggerFactory.getLogger(JsonLineErrors.class);
    /** Bad lines come from outside: at most one warning a second, the rest at DEBUG and counted. */
    private static final WarnLimiter BAD_LINES = new WarnLimiter(Ticker.system());

    private JsonLineErrors() {
    }

    /** The error reply to a request whose handler failed with {@code cause}. */
    public static Reply toReply(Request request, Throwable cause) {
        int code;
        String text;
        if (cause instanceof JsonLineException) {
            code = ((JsonLineException) cause).code();
            text = cause.getMessage();
        } else {
            log.warn("{} msg_id {} failed", request.type(), request.msgId(), cause);
            code = CRASH;
            text = "internal error: " + cause;
        }
        return new Reply(request.dest(), request.src(), body(request.msgId(), code, text));
    }

    /** The reply to an unknown type. */
    public static Reply unsupported(Request request) {
        return new Reply(request.dest(), request.src(),
                body(request.msgId(), NOT_SUPPORTED, "unsupported type: " + request.type()));
    }

    /**
     * Logs a bad line as one line on stderr and returns its error reply, or null when no msg_id
     * could be read.
     *
     * @param everyLine true to report every bad line (the stdin node: its input is the harness's own,
     *                  and the protocol promises one stderr line per bad line); false for lines from
     *                  the network, where at most one a second is reported (see {@link WarnLimiter}) and the
     *                  rest go to DEBUG, counted in the next report, so no client can fill a disk with them
     */
    public static Reply toReply(BadLine bad, boolean everyLine) {
        String what = bad.msgId() == null
                ? "dropped a malformed line (no msg_id to answer): " + bad.problem()
                : "malformed request msg_id " + bad.msgId() + ": " + bad.problem();
        int unreported = everyLine ? 0 : BAD_LINES.admit();
        if (unreported < 0) {
            log.debug(what);
        } else if (unreported == 0) {
            log.warn(what);
        } else {
            log.warn("{} ({} more malformed lines since the last report)", what, unreported);
        }
        return bad.msgId() == null ? null : new Reply(bad.dest(), bad.src(), body(bad.msgId(), MALFORMED_REQUEST, bad.problem()));
    }

    private static ObjectNode body(long inReplyTo, int code, String text) {
        ObjectNode body = JsonNodeFactory.instance.objectNode();
        body.put("type", "error");
        body.put("in_reply_to", inReplyTo);
        body.put("code", code);
        body.put("text", text);
        return body;
    }
}

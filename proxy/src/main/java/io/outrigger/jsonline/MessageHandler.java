package io.outrigger.jsonline;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.util.concurrent.Future;

/**
 * Serves one message {@code type}: returns the reply body, at once or later (a retry that waits).
 *
 * <p>Called on the channel's event loop; must never block. A handler throws (or fails its
 * future with) a {@link JsonLineException} for a request it cannot serve. Implementations are
 * shared by every channel of a node, so they keep no per-channel state (that lives in
 * {@link JsonLineSession}) and are thread-safe. A future still pending when its channel closes is
 * cancelled, so it must be one the handler made for this request (never a shared one).
 */
public interface MessageHandler {
    /** The {@code type} this handler serves. */
    String type();

    /** Serves a request; the body must start with {@code type} and {@code in_reply_to} (see {@link #replyBody}). */
    Future<ObjectNode> handle(Request request, JsonLineSession session);

    /** A reply body with its first two fields set. */
    static ObjectNode replyBody(String type, Request request) {
        ObjectNode body = Json.NODES.objectNode();
        body.put("type", type);
        body.put("in_reply_to", request.msgId());
        return body;
    }
}

package io.outrigger.jsonline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.util.concurrent.Future;

/**
 * {@code init} -> {@code init_ok} with the node's own {@code msg_id} (0 for the first). The node
 * needs no init to work; {@code node_id} and {@code node_ids} are checked, not used. Stateless.
 */
final class InitHandler implements MessageHandler {

    @Override
    public String type() {
        return "init";
    }

    @Override
    public Future<ObjectNode> handle(Request request, JsonLineSession session) {
        Fields.optionalString(request.body(), "node_id");
        JsonNode ids = request.body().get("node_ids");
        if (ids != null && !ids.isNull() && !isArrayOfStrings(ids)) {
            throw JsonLineException.malformed("node_ids: " + Fields.show(ids) + " (expected: an array of strings)");
        }
        ObjectNode body = MessageHandler.replyBody("init_ok", request);
        body.put("msg_id", session.nextMsgId());
        return session.executor().newSucceededFuture(body);
    }

    private static boolean isArrayOfStrings(JsonNode ids) {
        if (!ids.isArray()) {
            return false;
        }
        for (JsonNode id : ids) {
            if (!id.isTextual()) {
                return false;
            }
        }
        return true;
    }
}

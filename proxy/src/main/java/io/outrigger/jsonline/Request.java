package io.outrigger.jsonline;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One well-formed line-JSON request: an envelope whose body has a {@code type} and an integer
 * {@code msg_id}. The body's other fields are checked by the handler of its type.
 *
 * @param src   the envelope's {@code src}, or null when absent
 * @param dest  the envelope's {@code dest}, or null when absent
 * @param msgId the body's {@code msg_id}
 * @param type  the body's {@code type}
 * @param body  the body, as parsed (handlers only read it)
 */
public record Request(String src, String dest, long msgId, String type, ObjectNode body) {
}

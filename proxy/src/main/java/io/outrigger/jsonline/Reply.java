package io.outrigger.jsonline;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One reply envelope; {@link JsonLineEnvelopeEncoder} writes it as
 * {@code {"src":..,"dest":..,"body":{..}}} on one line.
 *
 * @param src  the request's {@code dest} (null is written as JSON null)
 * @param dest the request's {@code src}
 * @param body the reply body, fields in the order the spec lists them
 */
public record Reply(String src, String dest, ObjectNode body) {
}

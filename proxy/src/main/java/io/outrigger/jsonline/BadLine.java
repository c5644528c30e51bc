package io.outrigger.jsonline;

/**
 * A line that is not a well-formed request, with what could still be read of it: the
 * dispatcher logs it and answers with an error when the {@code msg_id} is known.
 *
 * @param src     the envelope's {@code src}, or null
 * @param dest    the envelope's {@code dest}, or null
 * @param msgId   the body's {@code msg_id}, or null when none could be read
 * @param problem what is wrong, for the error text and the log
 */
public record BadLine(String src, String dest, Long msgId, String problem) {
}

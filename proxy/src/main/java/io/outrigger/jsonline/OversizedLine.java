package io.outrigger.jsonline;

/**
 * A line longer than the frame decoder's limit: it was skipped, only its first bytes were kept
 * so a {@code msg_id} can still be read for the error reply.
 *
 * @param head   a copy of the line's first bytes (at most {@link JsonLineFrameDecoder#HEAD_BYTES})
 * @param length the whole line's length in bytes, delimiter excluded
 * @param limit  the longest line accepted
 */
public record OversizedLine(byte[] head, long length, int limit) {
}

package io.outrigger.jsonline;

/**
 * A line longer than the frame decoder's limit: it was skipped, and what it tells of its envelope
 * was read as it passed, so its error reply can still answer its {@code msg_id}.
 *
 * @param salvage its {@code src}, {@code dest} and {@code body.msg_id}, each null when not read (see {@link EnvelopeScanner})
 * @param length  the whole line's length in bytes, delimiter excluded
 * @param limit   the longest line accepted
 */
public record OversizedLine(Json.Salvage salvage, long length, int limit) {
}

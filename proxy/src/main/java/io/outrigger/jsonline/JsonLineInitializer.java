package io.outrigger.jsonline;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.flush.FlushConsolidationHandler;

/**
 * Builds the line-JSON pipeline on any channel: a TCP connection of the {@code jsonline}
 * listener and the stdin node's local channel get exactly the same handlers.
 *
 * <pre>
 *   bytes in  --> flush-consolidation --> frame (JsonLineFrameDecoder) --> envelope-decoder --> dispatcher
 *   bytes out <-- flush-consolidation <--------------------- envelope-encoder <-------------- Reply
 * </pre>
 *
 * Flushes are consolidated while a read batch is in progress and done at its end, so replies
 * to a burst of lines leave in one write and no reply waits for more input. Sharable.
 */
public final class JsonLineInitializer extends ChannelInitializer<Channel> {
    /** Flushes after this many replies even in the middle of a long read batch. */
    private static final int FLUSH_AFTER_REPLIES = 256;

    private final JsonLineNode node;
    private final boolean reportEveryBadLine;

    /**
     * @param reportEveryBadLine true for the stdin node (one stderr line per bad line), false for the
     *                           TCP listener (at most one a second): see {@link JsonLineErrors#toReply(BadLine, boolean)}
     */
    public JsonLineInitializer(JsonLineNode node, boolean reportEveryBadLine) {
        this.node = node;
        this.reportEveryBadLine = reportEveryBadLine;
    }

    @Override
    protected void initChannel(Channel ch) {
        ChannelPipeline p = ch.pipeline();
        p.addLast("flush-consolidation", new FlushConsolidationHandler(FLUSH_AFTER_REPLIES, true));
        p.addLast("frame", new JsonLineFrameDecoder());
        p.addLast("envelope-decoder", JsonLineEnvelopeDecoder.INSTANCE);
        p.addLast("envelope-encoder", JsonLineEnvelopeEncoder.INSTANCE);
        p.addLast("dispatcher", new JsonLineDispatcher(node, reportEveryBadLine));
    }
}

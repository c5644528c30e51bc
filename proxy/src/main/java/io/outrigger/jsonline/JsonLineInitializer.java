package io.outrigger.jsonline;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.timeout.IdleStateHandler;
import io.outrigger.listener.ReadBufferShortage;

import java.util.concurrent.TimeUnit;

/**
 * Builds the line-JSON pipeline on any channel: a TCP connection of the {@code jsonline}
 * listener and the stdin node's local channel get exactly the same handlers.
 *
 * <pre>
 *   bytes in  --> [idle] --> flush-consolidation --> frame (JsonLineFrameDecoder) --> envelope-decoder --> dispatcher
 *   bytes out <-- [idle] <-- flush-consolidation <--------------------- envelope-encoder <-------------- Reply
 * </pre>
 *
 * The {@code idle} handler (TCP listener only) reports a connection with neither input nor a reply
 * written for the idle timeout; the dispatcher closes it unless a call is still in flight or a client reading
 * slowly takes its replies.
 *
 * Flushes are consolidated while a read batch is in progress and done at its end, so replies
 * to a burst of lines leave in one write and no reply waits for more input. Sharable.
 */
public final class JsonLineInitializer extends ChannelInitializer<Channel> {
    /** Flushes after this many replies even in the middle of a long read batch. */
    private static final int FLUSH_AFTER_REPLIES = 256;

    private final JsonLineNode node;
    private final boolean reportEveryBadLine;
    private final long idleTimeoutMillis;

    /**
     * A pipeline without an idle timeout.
     *
     * @param reportEveryBadLine true for the stdin node (one stderr line per bad line), false for the
     *                           TCP listener (at most one a second): see {@link JsonLineErrors#toReply(BadLine, boolean)}
     */
    public JsonLineInitializer(JsonLineNode node, boolean reportEveryBadLine) {
        this(node, reportEveryBadLine, 0);
    }

    /**
     * @param idleTimeoutMillis a connection without input, without a reply written and without a call in flight
     *                          for this long is closed; 0 = never
     */
    public JsonLineInitializer(JsonLineNode node, boolean reportEveryBadLine, long idleTimeoutMillis) {
        this.node = node;
        this.reportEveryBadLine = reportEveryBadLine;
        this.idleTimeoutMillis = idleTimeoutMillis;
    }

    @Override
    protected void initChannel(Channel ch) {
        ReadBufferShortage.installOn(ch);
        ChannelPipeline p = ch.pipeline();
        if (idleTimeoutMillis > 0) {
            p.addLast("idle", new IdleStateHandler(0, 0, idleTimeoutMillis, TimeUnit.MILLISECONDS));
        }
        p.addLast("flush-consolidation", new FlushConsolidationHandler(FLUSH_AFTER_REPLIES, true));
        p.addLast("frame", new JsonLineFrameDecoder());
        p.addLast("envelope-decoder", JsonLineEnvelopeDecoder.INSTANCE);
        p.addLast("envelope-encoder", JsonLineEnvelopeEncoder.INSTANCE);
        p.addLast("dispatcher", new JsonLineDispatcher(node, reportEveryBadLine));
    }
}

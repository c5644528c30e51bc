package io.outrigger.jsonline;

import io.netty.util.concurrent.EventExecutor;

/**
 * The per-channel state a line-JSON conversation needs: the event loop its work runs on and
 * the node's own {@code msg_id} counter (starting at 0, used by {@code init_ok}).
 *
 * <p>Confined to the channel's event loop: not thread-safe.
 */
public final class JsonLineSession {
    private final EventExecutor executor;
    private long nextMsgId;

    public JsonLineSession(EventExecutor executor) {
        this.executor = executor;
    }

    /** The channel's event loop: replies complete on it and retries are scheduled on it. */
    public EventExecutor executor() {
        return executor;
    }

    /** The next of this node's own message ids: 0, 1, 2, ... */
    public long nextMsgId() {
        return nextMsgId++;
    }
}

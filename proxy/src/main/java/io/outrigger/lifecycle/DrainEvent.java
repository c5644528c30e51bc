package io.outrigger.lifecycle;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;

import java.util.concurrent.RejectedExecutionException;

/**
 * The user event that tells an accepted connection its listener is draining: finish the work in
 * flight, take no more, and close. A protocol handler that cares reacts to it in
 * {@code userEventTriggered}; the others let it pass to the tail.
 *
 * <p>The event may reach a connection so soon after it was accepted that its pipeline is not built
 * yet, so {@link #deliver(Channel)} also marks the channel: a handler checks {@link #requested(Channel)}
 * in {@code channelActive}. Immutable; a singleton.
 */
public final class DrainEvent {
    /** The event fired through the pipeline of a draining connection. */
    public static final DrainEvent INSTANCE = new DrainEvent();

    private static final AttributeKey<Boolean> REQUESTED = AttributeKey.valueOf(DrainEvent.class, "requested");

    private DrainEvent() {
    }

    /** Whether the connection was asked to drain; any thread. */
    public static boolean requested(Channel ch) {
        return Boolean.TRUE.equals(ch.attr(REQUESTED).get());
    }

    /** Marks {@code ch} as draining and fires the event on its event loop; any thread, never blocks. */
    static void deliver(Channel ch) {
        ch.attr(REQUESTED).set(Boolean.TRUE);
        try {
            ch.eventLoop().execute(() -> ch.pipeline().fireUserEventTriggered(INSTANCE));
        } catch (RejectedExecutionException e) {
            ch.close(); // the event loop is shutting down: the connection goes with it
        }
    }

    @Override
    public String toString() {
        return "DrainEvent";
    }
}

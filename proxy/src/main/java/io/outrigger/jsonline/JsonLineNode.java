package io.outrigger.jsonline;

import io.outrigger.SidecarContext;

import java.util.HashMap;
import java.util.Map;

/**
 * One line-JSON node: the message handlers (built once, shared by every channel) over the
 * sidecar's shared state, and how long end of input may wait for requests in flight.
 * Immutable and thread-safe.
 */
public final class JsonLineNode {
    /** Default time end of input waits for requests in flight: 5000 ms. */
    public static final long DEFAULT_DRAIN_MILLIS = 5_000;

    private final SidecarContext context;
    private final Map<String, MessageHandler> handlers;
    private final long drainMillis;

    /**
     * @param context     the sidecar's shared registry, health, breakers and selector
     * @param sidecarName the {@code proxied_by} name; null derives it from the caller
     *                    ({@code service-a} -> {@code sidecar-a}, any other {@code src} -> {@code sidecar-<src>})
     * @param drainMillis how long end of input waits for requests in flight
     */
    public JsonLineNode(SidecarContext context, String sidecarName, long drainMillis) {
        this.context = context;
        this.drainMillis = drainMillis;
        // A plain loop, no stream: each lambda and collector costs the stdin node's cold start class loading.
        Map<String, MessageHandler> byType = new HashMap<>();
        for (MessageHandler h : new MessageHandler[] {new InitHandler(), new DiscoverHandler(context),
                new CallHandler(context, sidecarName), new HealthHandler(context), new RouteHandler(context)}) {
            if (byType.put(h.type(), h) != null) {
                throw new IllegalStateException("two handlers for message type " + h.type());
            }
        }
        this.handlers = Map.copyOf(byType);
    }

    public SidecarContext context() {
        return context;
    }

    /** The handler of a message type, or null when the type is not supported. */
    public MessageHandler handler(String type) {
        return handlers.get(type);
    }

    public long drainMillis() {
        return drainMillis;
    }
}

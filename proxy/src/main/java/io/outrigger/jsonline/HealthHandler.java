package io.outrigger.jsonline;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.util.concurrent.Future;
import io.outrigger.SidecarContext;
import io.outrigger.discovery.Endpoint;

/**
 * {@code health} -> {@code health_ok}: marks one instance healthy or not in the shared
 * {@link io.outrigger.discovery.HealthTracker}, so {@code discover} and {@code route} (and the
 * HTTP edge) leave it out. Thread-safe.
 */
final class HealthHandler implements MessageHandler {
    private final SidecarContext context;

    HealthHandler(SidecarContext context) {
        this.context = context;
    }

    @Override
    public String type() {
        return "health";
    }

    @Override
    public Future<ObjectNode> handle(Request request, JsonLineSession session) {
        ObjectNode in = request.body();
        String service = Fields.requiredString(in, "service");
        String host = Fields.requiredString(in, "host");
        int port = Fields.requiredInt(in, "port", 1, 65535);
        boolean healthy = Fields.requiredBoolean(in, "healthy");
        Endpoint endpoint;
        try {
            endpoint = new Endpoint(host, port);
        } catch (IllegalArgumentException e) {
            throw JsonLineException.malformed("host: \"" + host + "\" (expected: a host name or IP address)");
        }
        context.health().mark(service, endpoint, healthy,
                healthy ? "reported healthy (line-JSON health)" : "reported unhealthy (line-JSON health)");
        return session.executor().newSucceededFuture(MessageHandler.replyBody("health_ok", request));
    }
}

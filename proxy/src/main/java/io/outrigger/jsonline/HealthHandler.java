package io.outrigger.jsonline;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.util.concurrent.Future;
import io.outrigger.SidecarContext;
import io.outrigger.discovery.Endpoint;

/**
 * {@code health} -> {@code health_ok}: marks one instance healthy or not in the shared
 * {@link io.outrigger.discovery.HealthTracker}, so {@code discover} and {@code route} (and the
 * HTTP edge) leave it out. Once {@value #MAX_TRACKED_INSTANCES} instances are tracked, a report about
 * one the registry does not list is refused (code 12). Thread-safe.
 */
final class HealthHandler implements MessageHandler {
    /**
     * Tracked instances past which a report may not add one the registry does not list: callers name
     * services and addresses freely, and the state of an instance lives as long as the process, so a
     * client reporting ever new ones could grow the sidecar without bound. Reports about listed or
     * already tracked instances are never refused.
     */
    static final int MAX_TRACKED_INSTANCES = 1_024;

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
        Fields.checkServiceName(service, context.registry().contains(service));
        Endpoint endpoint;
        try {
            endpoint = new Endpoint(host, port);
        } catch (IllegalArgumentException e) {
            throw JsonLineException.malformed("host: \"" + host + "\" (expected: a host name or IP address)");
        }
        if (!context.health().isTracked(service, endpoint) && !context.registry().endpoints(service).contains(endpoint)
                && context.health().trackedCount() >= MAX_TRACKED_INSTANCES) {
            throw JsonLineException.malformed("host: " + endpoint + " of " + service + " is not in the registry and would be instance number "
                    + (MAX_TRACKED_INSTANCES + 1) + " (at most " + MAX_TRACKED_INSTANCES + " are tracked)");
        }
        context.health().mark(service, endpoint, healthy,
                healthy ? "reported healthy (line-JSON health)" : "reported unhealthy (line-JSON health)");
        return session.executor().newSucceededFuture(MessageHandler.replyBody("health_ok", request));
    }
}

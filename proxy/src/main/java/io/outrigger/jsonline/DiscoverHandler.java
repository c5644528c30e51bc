package io.outrigger.jsonline;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.util.concurrent.Future;
import io.outrigger.SidecarContext;
import io.outrigger.discovery.Endpoint;

/**
 * {@code discover} -> {@code discovered}: the healthy instances of a service from the registry,
 * in registration order; {@code []} for an unknown service. Only reads shared state; thread-safe.
 */
final class DiscoverHandler implements MessageHandler {
    private final SidecarContext context;

    DiscoverHandler(SidecarContext context) {
        this.context = context;
    }

    @Override
    public String type() {
        return "discover";
    }

    @Override
    public Future<ObjectNode> handle(Request request, JsonLineSession session) {
        String service = Fields.requiredString(request.body(), "service");
        ObjectNode body = MessageHandler.replyBody("discovered", request);
        body.put("service", service);
        ArrayNode instances = body.putArray("instances");
        for (Endpoint e : context.selector().healthy(service)) {
            instances.add(instance(body, e));
        }
        return session.executor().newSucceededFuture(body);
    }

    /** {@code {"host":..,"port":..}} */
    static ObjectNode instance(ObjectNode parent, Endpoint e) {
        ObjectNode o = parent.objectNode();
        o.put("host", e.host());
        o.put("port", e.port());
        return o;
    }
}

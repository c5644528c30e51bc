package io.outrigger.jsonline;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.util.concurrent.Future;
import io.outrigger.SidecarContext;
import io.outrigger.discovery.Endpoint;

/**
 * {@code route} -> {@code routed}: the next instance of a service, round-robin over the healthy
 * instances whose breaker is not open; {@code error "No healthy instance"} when none is left.
 * A question, not traffic: it starts no active health checks of the instances it names.
 * Thread-safe.
 */
final class RouteHandler implements MessageHandler {
    private final SidecarContext context;

    RouteHandler(SidecarContext context) {
        this.context = context;
    }

    @Override
    public String type() {
        return "route";
    }

    @Override
    public Future<ObjectNode> handle(Request request, JsonLineSession session) {
        String service = Fields.requiredString(request.body(), "service");
        Endpoint e = context.selector().nextWithoutTraffic(service);
        ObjectNode body;
        if (e == null) {
            body = MessageHandler.replyBody("error", request);
            body.put("error", "No healthy instance");
            body.put("service", service);
        } else {
            body = MessageHandler.replyBody("routed", request);
            body.put("service", service);
            body.set("instance", DiscoverHandler.instance(body, e));
        }
        return session.executor().newSucceededFuture(body);
    }
}

package io.outrigger.registry.fake;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.concurrent.Future;
import io.outrigger.registry.http.ReceivedHeaders;
import io.outrigger.registry.http.RequestHandler;
import io.outrigger.registry.http.RequestRefused;
import io.outrigger.registry.http.RequestTarget;
import io.outrigger.registry.http.Responses;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * A fake service's HTTP behaviour:
 * <pre>
 *   POST /admin/fail?rate=R[&status=S]  share of requests answered S (0..1; S a 5xx, default 500)
 *   POST /admin/latency?ms=N      delay before each answer
 *   POST /admin/health?fail=B     /health answers 503 while true
 *   GET  /health                  200 {"status":"passing"} or 503 {"status":"failing"}
 *   GET  /call/SERVICE/PATH       calls SERVICE through the sidecar, trace headers forwarded
 *   any other                     200 {"service","instance","method","path","headers"}
 *                                 (headers as received, names lower case; a repeated one's lines joined with ", ")
 * </pre>
 * Latency applies to every answer but {@code /admin}'s and is an event-loop timer, never a sleep; the fail
 * rate applies to ordinary requests and {@code /call}. Errors are JSON, {@code {"error": "..."}}. Stateless
 * ({@link Behaviour} holds the settings) and {@code @Sharable}.
 */
@ChannelHandler.Sharable
final class FakeServiceHandler extends RequestHandler {
    /** A service name that can stand as the host of {@code http://SERVICE/PATH} and in {@code Host}. */
    private static final Pattern SERVICE_NAME = Pattern.compile("[A-Za-z0-9._~-]+");
    private final String service;
    private final Supplier<String> instance; // known once the port is bound: the default id contains it
    private final Behaviour behaviour;
    private final DownstreamCaller downstream; // null when no sidecar is configured

    FakeServiceHandler(String service, Supplier<String> instance, Behaviour behaviour, DownstreamCaller downstream) {
        this.service = service;
        this.instance = instance;
        this.behaviour = behaviour;
        this.downstream = downstream;
    }

    @Override
    public boolean wantsHeadersAsReceived() {
        return true;
    }

    @Override
    public FullHttpResponse errorResponse(HttpResponseStatus status, String reason) {
        return Responses.error(status, reason);
    }

    @Override
    protected void handle(ChannelHandlerContext ctx, FullHttpRequest req, RequestTarget q, boolean keepAlive)
            throws RequestRefused {
        String path = "/" + String.join("/", q.segments());
        if (path.startsWith("/admin/")) {
            if (!req.method().equals(HttpMethod.POST)) {
                throw RequestRefused.methodNotAllowed(req.method(), HttpMethod.POST);
            }
            Responses.send(ctx, keepAlive, admin(path, q));
            return;
        }
        long delay = behaviour.latencyMillis();
        if (path.equals("/health")) {
            boolean failing = behaviour.healthFailing();
            reply(ctx, keepAlive, delay, Responses.json(failing ? HttpResponseStatus.SERVICE_UNAVAILABLE : HttpResponseStatus.OK,
                    JsonNodeFactory.instance.objectNode().put("status", failing ? "failing" : "passing").put("instance", instance.get())));
            return;
        }
        if (behaviour.failNow()) {
            ObjectNode err = JsonNodeFactory.instance.objectNode().put("error", "injected failure")
                    .put("service", service).put("instance", instance.get());
            reply(ctx, keepAlive, delay, Responses.json(HttpResponseStatus.valueOf(behaviour.failStatus()), err));
            return;
        }
        ObjectNode echo = echo(ctx, req, q);
        if (q.segments().size() > 1 && q.segments().get(0).equals("call")) {
            call(ctx, keepAlive, delay, req, q, echo);
            return;
        }
        reply(ctx, keepAlive, delay, Responses.json(HttpResponseStatus.OK, echo));
    }

    private ObjectNode echo(ChannelHandlerContext ctx, FullHttpRequest req, RequestTarget q) {
        ObjectNode echo = JsonNodeFactory.instance.objectNode().put("service", service).put("instance", instance.get())
                .put("method", req.method().name()).put("path", q.asSent());
        // As received (no Content-Length the aggregator added); the lines of a repeated header joined with ", ",
        // in order, as RFC 9110 5.3 combines them: one Via per hop reads "1.1 sidecar-a, 1.1 sidecar-b1".
        HttpHeaders received = ReceivedHeaders.of(ctx.channel());
        Map<String, String> byName = new LinkedHashMap<>();
        for (Map.Entry<String, String> h : received != null ? received : req.headers()) {
            byName.merge(h.getKey().toLowerCase(Locale.ROOT), h.getValue(), (a, b) -> a + ", " + b);
        }
        ObjectNode headers = echo.putObject("headers");
        byName.forEach(headers::put);
        return echo;
    }

    /**
     * {@code /call/SERVICE/PATH?QUERY}: the service name is decoded (once) and must be a plain host name; PATH and
     * QUERY go downstream exactly as the caller sent them, still encoded.
     */
    private void call(ChannelHandlerContext ctx, boolean keepAlive, long delay, FullHttpRequest req, RequestTarget q,
                      ObjectNode echo) throws RequestRefused {
        String target = q.segments().get(1);
        if (target.isEmpty()) {
            throw new RequestRefused(HttpResponseStatus.BAD_REQUEST, "expected /call/SERVICE/PATH");
        }
        if (!SERVICE_NAME.matcher(target).matches()) {
            throw new RequestRefused(HttpResponseStatus.BAD_REQUEST, "service: \"" + target
                    + "\" (expected: a SERVICE name of letters, digits, '-', '.', '_' or '~')");
        }
        int restAt = 1 + q.rawSegments().get(0).length() + 1 + q.rawSegments().get(1).length();
        String rest = q.rawPath().substring(restAt);
        String targetPath = (rest.isEmpty() ? "/" : rest) + (q.rawQuery().isEmpty() ? "" : "?" + q.rawQuery());
        if (downstream == null) {
            reply(ctx, keepAlive, 0, Responses.error(HttpResponseStatus.BAD_GATEWAY,
                    "no sidecar configured (set HTTP_PROXY or --sidecar)"));
            return;
        }
        HttpHeaders incoming = req.headers().copy();
        String what = req.method() + " " + req.uri();
        downstream.call(ctx.channel().eventLoop(), target, targetPath, incoming).addListener(f -> {
            try {
                answerCall(ctx, keepAlive, delay, echo, f);
            } catch (RuntimeException e) {
                answerFailure(ctx, what, e);
            }
        });
    }

    private void answerCall(ChannelHandlerContext ctx, boolean keepAlive, long delay, ObjectNode echo,
                            Future<?> f) {
        ObjectNode down = echo.putObject("downstream");
        HttpResponseStatus status;
        if (f.isSuccess()) {
            FullHttpResponse res = (FullHttpResponse) f.getNow();
            try {
                status = res.status();
                down.put("status", res.status().code());
                ObjectNode trace = down.putObject("headers");
                for (String h : DownstreamCaller.TRACE_HEADERS) {
                    String v = res.headers().get(h);
                    if (v != null) {
                        trace.put(h, v);
                    }
                }
                String body = res.content().toString(StandardCharsets.UTF_8);
                down.set("body", parse(body));
            } finally {
                res.release();
            }
        } else {
            Throwable cause = f.cause();
            status = cause instanceof java.util.concurrent.TimeoutException ? HttpResponseStatus.GATEWAY_TIMEOUT
                    : HttpResponseStatus.BAD_GATEWAY;
            down.put("status", status.code()).put("error", "sidecar " + downstream.sidecar() + ": "
                    + (cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage()));
        }
        reply(ctx, keepAlive, delay, Responses.json(status, echo));
    }

    private static JsonNode parse(String body) {
        try {
            JsonNode n = Responses.JSON.readTree(body);
            return n == null ? JsonNodeFactory.instance.textNode(body) : n;
        } catch (java.io.IOException e) {
            return JsonNodeFactory.instance.textNode(body);
        }
    }

    private FullHttpResponse admin(String path, RequestTarget q) {
        try {
            switch (path) {
                case "/admin/fail":
                    // Without status the default, 500, as documented: not whatever an earlier call set.
                    String status = q.parameter("status");
                    behaviour.setFailure(number(q, "rate", "a number 0.0..1.0"),
                            status == null ? 500 : integer(q, "status", "an integer 500..599"));
                    break;
                case "/admin/latency":
                    behaviour.setLatencyMillis(integer(q, "ms", "an integer 0..600000"));
                    break;
                case "/admin/health":
                    String fail = required(q, "fail");
                    if (!fail.equals("true") && !fail.equals("false")) {
                        throw new IllegalArgumentException("fail: " + fail + " (expected: true or false)");
                    }
                    behaviour.setHealthFailing(Boolean.parseBoolean(fail));
                    break;
                default:
                    return Responses.error(HttpResponseStatus.NOT_FOUND, "no such admin endpoint: " + path);
            }
        } catch (IllegalArgumentException e) {
            return Responses.error(HttpResponseStatus.BAD_REQUEST, e.getMessage());
        }
        return Responses.json(HttpResponseStatus.OK, JsonNodeFactory.instance.objectNode()
                .put("fail_rate", behaviour.failRate()).put("fail_status", behaviour.failStatus()).put("latency_ms", behaviour.latencyMillis())
                .put("health_failing", behaviour.healthFailing()));
    }

    private static double number(RequestTarget q, String name, String expected) {
        String v = required(q, name);
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + ": \"" + v + "\" (expected: " + expected + ")");
        }
    }

    private static long integer(RequestTarget q, String name, String expected) {
        String v = required(q, name);
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + ": \"" + v + "\" (expected: " + expected + ")");
        }
    }

    private static String required(RequestTarget q, String name) {
        List<String> v = q.parameters().get(name);
        if (v == null || v.isEmpty()) {
            throw new IllegalArgumentException(name + ": missing");
        }
        return v.get(0);
    }

    private static void reply(ChannelHandlerContext ctx, boolean keepAlive, long delayMillis, FullHttpResponse res) {
        if (delayMillis <= 0) {
            Responses.send(ctx, keepAlive, res);
        } else {
            ctx.executor().schedule(() -> Responses.send(ctx, keepAlive, res), delayMillis, TimeUnit.MILLISECONDS);
        }
    }
}

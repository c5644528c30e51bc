package io.outrigger.registry.consul;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.concurrent.ScheduledFuture;
import io.outrigger.registry.http.RequestHandler;
import io.outrigger.registry.http.RequestRefused;
import io.outrigger.registry.http.RequestTarget;
import io.outrigger.registry.http.Responses;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * The Consul HTTP API subset over a {@link Catalog}:
 * <pre>
 *   PUT /v1/agent/service/register              add or replace an instance (400 with a reason on a bad body)
 *   PUT /v1/agent/service/deregister/{id}        remove it (404 if unknown)
 *   GET /v1/health/service/{name}[?passing=true] [{"Service":{"ID","Service","Address","Port"},"Checks":[{"Status"}]}]
 *   GET /v1/catalog/services                    {"service-b": [], ...}
 * </pre>
 * Reads carry {@code X-Consul-Index}; with {@code ?index=N[&wait=5s]} they are blocking queries: the request is
 * parked as a callback on the catalog (no thread waits) and answered when the index moves past N, or after
 * {@code wait} (default 5m, also for {@code wait=0}, at most 10m) with the same index. An index beyond the registry's own (a client of an
 * earlier incarnation) is answered at once. {@code OPTIONS} on an endpoint is {@code 200} with {@code Allow}, another
 * method a {@code 405} with it, as from Consul. Errors are plain text, as Consul's are. Stateless and {@code @Sharable}.
 */
@ChannelHandler.Sharable
public final class RegistryHandler extends RequestHandler {
    private static final Logger log = LoggerFactory.getLogger(RegistryHandler.class);
    static final long DEFAULT_WAIT_MILLIS = TimeUnit.MINUTES.toMillis(5);
    static final long MAX_WAIT_MILLIS = TimeUnit.MINUTES.toMillis(10);
    private static final List<String> REGISTER = List.of("v1", "agent", "service", "register");
    private static final List<String> DEREGISTER = List.of("v1", "agent", "service", "deregister");
    private static final List<String> HEALTH = List.of("v1", "health", "service");
    private static final List<String> CATALOG = List.of("v1", "catalog", "services");

    private final Catalog catalog;

    public RegistryHandler(Catalog catalog) {
        this.catalog = catalog;
    }

    @Override
    public FullHttpResponse errorResponse(HttpResponseStatus status, String reason) {
        return Responses.text(status, reason + "\n");
    }

    @Override
    protected void handle(ChannelHandlerContext ctx, FullHttpRequest req, RequestTarget q, boolean keepAlive) throws RequestRefused {
        // Matched on segments decoded once each: a name or id may hold an escaped '/' or '%'.
        List<String> path = q.segments();
        if (path.equals(REGISTER)) {
            if (accepts(ctx, req, keepAlive, HttpMethod.PUT)) {
                register(req);
                Responses.send(ctx, keepAlive, Responses.text(HttpResponseStatus.OK, ""));
            }
        } else if (startsWith(path, DEREGISTER)) {
            if (!accepts(ctx, req, keepAlive, HttpMethod.PUT)) {
                return;
            }
            String id = rest(path, DEREGISTER);
            if (!catalog.deregister(id)) {
                throw new RequestRefused(HttpResponseStatus.NOT_FOUND, "Unknown service ID \"" + id + "\"");
            }
            log.info("deregistered {}", id);
            Responses.send(ctx, keepAlive, Responses.text(HttpResponseStatus.OK, ""));
        } else if (startsWith(path, HEALTH)) {
            if (accepts(ctx, req, keepAlive, HttpMethod.GET)) {
                String service = rest(path, HEALTH);
                boolean passingOnly = flag(q, "passing");
                read(ctx, keepAlive, q, service, () -> healthAnswer(service, passingOnly));
            }
        } else if (path.equals(CATALOG)) {
            if (accepts(ctx, req, keepAlive, HttpMethod.GET)) {
                read(ctx, keepAlive, q, Catalog.CATALOG_KEY, this::catalogAnswer);
            }
        } else {
            throw new RequestRefused(HttpResponseStatus.NOT_FOUND, "no such endpoint: " + q.rawPath());
        }
    }

    /** Whether {@code path} is {@code prefix} followed by a non-empty rest. */
    private static boolean startsWith(List<String> path, List<String> prefix) {
        return path.size() > prefix.size() && path.subList(0, prefix.size()).equals(prefix) && !rest(path, prefix).isEmpty();
    }

    /** The segments after {@code prefix}, joined by '/' as Consul takes the rest of the path as the name or id. */
    private static String rest(List<String> path, List<String> prefix) {
        return String.join("/", path.subList(prefix.size(), path.size()));
    }

    private void register(FullHttpRequest req) throws RequestRefused {
        Registration r;
        try {
            r = Registration.parse(req.content().toString(StandardCharsets.UTF_8));
        } catch (Registration.Invalid e) {
            throw new RequestRefused(HttpResponseStatus.BAD_REQUEST, "Invalid registration: " + e.getMessage());
        }
        catalog.register(r.id(), r.name(), r.address(), r.port(), r.check());
        log.info("registered {} ({} at {}:{}{})", r.id(), r.name(), r.address(), r.port(),
                r.check() == null ? "" : ", check " + r.check().url() + " every " + r.check().intervalMillis() + " ms");
    }

    /** Answers a read now, or parks it as a blocking query. */
    private void read(ChannelHandlerContext ctx, boolean keepAlive, RequestTarget q, String key,
                      Supplier<FullHttpResponse> answer) throws RequestRefused {
        // Both read as Consul's parseWait reads them, whether or not the query blocks: an empty value is none given.
        long waitMillis = waitMillis(q);
        long index = index(q);
        if (index <= 0) {
            Responses.send(ctx, keepAlive, answer.get());
            return;
        }
        new ParkedQuery(ctx, keepAlive, key, answer).park(index, waitMillis);
    }

    /**
     * {@code wait}: a Consul duration, at most 10m; none, empty, 0 or a negative one is the default, 5m, as Consul
     * takes them (a 0 is not "do not block").
     */
    private static long waitMillis(RequestTarget q) throws RequestRefused {
        String wait = param(q, "wait");
        if (wait == null || wait.isEmpty()) {
            return DEFAULT_WAIT_MILLIS;
        }
        try {
            long asked = Durations.parseMillis(wait);
            return asked <= 0 ? DEFAULT_WAIT_MILLIS : Math.min(MAX_WAIT_MILLIS, asked);
        } catch (IllegalArgumentException e) {
            throw new RequestRefused(HttpResponseStatus.BAD_REQUEST, "wait: " + e.getMessage());
        }
    }

    /**
     * {@code index}: none or empty is 0 (no blocking), else an unsigned 64-bit decimal, as Go's
     * {@code strconv.ParseUint} reads it (no sign). One above {@link Long#MAX_VALUE} is beyond any index of this
     * registry, and is answered at once like any such index.
     */
    private static long index(RequestTarget q) throws RequestRefused {
        String v = param(q, "index");
        if (v == null || v.isEmpty()) {
            return 0;
        }
        if (v.chars().allMatch(c -> c >= '0' && c <= '9')) {
            try {
                long n = Long.parseUnsignedLong(v);
                return n < 0 ? Long.MAX_VALUE : n;
            } catch (NumberFormatException e) {
                // above 2^64 - 1: refused below
            }
        }
        throw new RequestRefused(HttpResponseStatus.BAD_REQUEST,
                "index: \"" + v + "\" (expected: an integer 0..18446744073709551615)");
    }

    private FullHttpResponse healthAnswer(String service, boolean passingOnly) {
        Catalog.Snapshot<List<ServiceInstance>> s = catalog.health(service, passingOnly);
        ArrayNode out = JsonNodeFactory.instance.arrayNode();
        for (ServiceInstance i : s.value()) {
            ObjectNode entry = out.addObject();
            entry.putObject("Service").put("ID", i.id()).put("Service", i.service()).put("Address", i.address()).put("Port", i.port());
            entry.putArray("Checks").addObject().put("Status", i.status());
        }
        return withIndex(Responses.json(HttpResponseStatus.OK, out), s.index());
    }

    private FullHttpResponse catalogAnswer() {
        Catalog.Snapshot<List<String>> s = catalog.services();
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        s.value().forEach(name -> out.putArray(name));
        return withIndex(Responses.json(HttpResponseStatus.OK, out), s.index());
    }

    private static FullHttpResponse withIndex(FullHttpResponse res, long index) {
        res.headers().set("X-Consul-Index", index);
        return res;
    }

    /**
     * Whether the request has the endpoint's {@code method} and goes on. As Consul's HTTP server does, an
     * {@code OPTIONS} is answered here, {@code 200} with {@code Allow: OPTIONS,METHOD}, and any other method is a
     * {@code 405} with the same {@code Allow}.
     */
    private static boolean accepts(ChannelHandlerContext ctx, FullHttpRequest req, boolean keepAlive, HttpMethod method)
            throws RequestRefused {
        if (req.method().equals(method)) {
            return true;
        }
        String allow = HttpMethod.OPTIONS.name() + "," + method.name();
        if (!req.method().equals(HttpMethod.OPTIONS)) {
            throw RequestRefused.methodNotAllowed(req.method(), method, allow);
        }
        FullHttpResponse res = Responses.text(HttpResponseStatus.OK, "");
        res.headers().set(HttpHeaderNames.ALLOW, allow);
        Responses.send(ctx, keepAlive, res);
        return false;
    }

    private static String param(RequestTarget q, String name) {
        return q.parameter(name);
    }

    /** A boolean parameter as Consul reads one: present without a value is true, else Go's {@code strconv.ParseBool}. */
    private static boolean flag(RequestTarget q, String name) throws RequestRefused {
        String v = param(q, name);
        if (v == null) {
            return q.parameters().containsKey(name);
        }
        switch (v) {
            case "", "1", "t", "T", "true", "TRUE", "True":
                return true;
            case "0", "f", "F", "false", "FALSE", "False":
                return false;
            default:
                throw new RequestRefused(HttpResponseStatus.BAD_REQUEST, name + ": \"" + v + "\" (expected: true or false)");
        }
    }

    /**
     * One parked blocking query. Exactly one of wake-up, timeout and connection close wins; the loser
     * paths do nothing. The answer is built and written on the connection's event loop.
     */
    private final class ParkedQuery implements Catalog.Waiter {
        private final ChannelHandlerContext ctx;
        private final boolean keepAlive;
        private final String key;
        private final Supplier<FullHttpResponse> answer;
        private final AtomicBoolean done = new AtomicBoolean();
        private volatile ScheduledFuture<?> timer;
        private final ChannelFutureListener onClose = f -> giveUp();

        ParkedQuery(ChannelHandlerContext ctx, boolean keepAlive, String key, Supplier<FullHttpResponse> answer) {
            this.ctx = ctx;
            this.keepAlive = keepAlive;
            this.key = key;
            this.answer = answer;
        }

        void park(long index, long waitMillis) {
            if (!catalog.await(key, index, this)) {
                done.set(true);
                Responses.send(ctx, keepAlive, answer.get());
                return;
            }
            timer = ctx.executor().schedule(this::timeout, waitMillis, TimeUnit.MILLISECONDS);
            ctx.channel().closeFuture().addListener(onClose);
        }

        @Override
        public void wake() {
            if (done.compareAndSet(false, true)) {
                cancelTimer();
                ctx.executor().execute(this::answer);
            }
        }

        private void timeout() {
            if (done.compareAndSet(false, true)) {
                catalog.cancel(key, this);
                answer();
            }
        }

        private void giveUp() {
            if (done.compareAndSet(false, true)) {
                cancelTimer();
                catalog.cancel(key, this);
            }
        }

        private void answer() {
            ctx.channel().closeFuture().removeListener(onClose);
            FullHttpResponse res;
            try {
                res = answer.get();
            } catch (RuntimeException e) {
                answerFailure(ctx, "blocking query on " + (key.isEmpty() ? "the catalog" : key), e);
                return;
            }
            Responses.send(ctx, keepAlive, res);
        }

        private void cancelTimer() {
            ScheduledFuture<?> t = timer;
            if (t != null) {
                t.cancel(false);
            }
        }
    }
}

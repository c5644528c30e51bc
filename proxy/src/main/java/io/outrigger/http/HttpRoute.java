package io.outrigger.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;
import io.outrigger.SidecarContext;
import io.outrigger.discovery.Endpoint;
import io.outrigger.discovery.RoundRobinSelector;
import io.outrigger.resilience.CircuitBreaker;
import io.outrigger.resilience.CircuitBreakerConfig;
import io.outrigger.resilience.CircuitBreakers;
import io.outrigger.config.ConfigLoader;

import java.util.List;

/**
 * Where one HTTP listener sends its requests: the outbound listener to the service named by
 * the request (Host header or proxy-form URI) and a round-robin pick of its instances; the
 * inbound listener to the local app as the sidecar's own service. Thread-safe.
 */
abstract class HttpRoute {
    private final String edge;
    private final AsciiString via;
    private final AsciiString via10;
    private final CircuitBreakers breakers;
    private final RoundRobinSelector selector;
    private final AccessLog accessLog;

    private HttpRoute(String edge, SidecarContext context) {
        this.edge = edge;
        if (!ConfigLoader.isToken(context.name())) {
            // Via goes out unvalidated, as the sidecar's own value (OwnHeaderValues); the config loader refuses such a name first.
            throw new IllegalArgumentException("name: " + context.name() + " (expected: " + ConfigLoader.NAME_EXPECTED + ")");
        }
        this.via = AsciiString.cached("1.1 " + context.name());
        this.via10 = AsciiString.cached("1.0 " + context.name());
        this.breakers = context.breakers();
        this.selector = context.selector();
        this.accessLog = context.config().http().accessLog() ? AccessLog.stderr() : null;
    }

    /** Where finished requests are logged; null when the access log is off ({@code http.access_log}). */
    final AccessLog accessLog() {
        return accessLog;
    }

    /** The {@code Via} value this sidecar adds. */
    final AsciiString via() {
        return via;
    }

    /**
     * The {@code Via} value this sidecar adds to a message it received as {@code received}: RFC 9110 7.6.3
     * names the protocol of the message as received, so an HTTP/1.0 segment of the chain shows as {@code 1.0}.
     */
    final AsciiString via(HttpVersion received) {
        return received.majorVersion() == 1 && received.minorVersion() == 0 ? via10 : via;
    }

    /** The breaker of one instance of a service (an allocation-free lookup once it exists). */
    final CircuitBreaker instanceBreaker(String service, Endpoint endpoint) {
        return breakers.forInstance(service, endpoint);
    }

    /** The breaker that judges the service as a whole, on this edge. */
    CircuitBreaker serviceBreaker(String service) {
        return breakers.forService(service);
    }

    /**
     * Whether a retry could be let through now: the breakers it would need do not all refuse. Checked
     * before a backoff is waited for, so a request whose own failures opened them is answered at once.
     * The outbound edge asks its instances' breakers (the exchange holds the service's permit already).
     */
    boolean breakersAllowRetry(String service) {
        return selector.anyCallable(service);
    }

    /** {@code outbound} or {@code inbound}, for logs and metrics. */
    final String edge() {
        return edge;
    }

    /**
     * The service a request is for, or null when it names none. Rewrites a proxy-form URI
     * ({@code http://service-b/path}) to origin form ({@code /path}) and sets {@code Host} from it.
     */
    abstract String service(HttpRequest request);

    /** Whether the service exists (it may have no instance left). */
    abstract boolean knows(String service);

    /** The instance for the next attempt, avoiding {@code tried} when another exists; null when none is left. */
    abstract Endpoint pick(String service, List<Endpoint> tried);

    /**
     * Whether a 502/503/504 answer, a read timeout or a new connection's reset may be retried (connect failures always
     * may; on an edge that retries answers, resets whatever the method). The outbound edge: yes. The
     * inbound edge: no, since the caller's sidecar already retries, and retrying on both sides would
     * multiply every failing request (3 x 3 attempts).
     */
    boolean retriesAnswers() {
        return true;
    }

    /**
     * Gives a request without {@code Host} one for the instance: an HTTP/1.0 caller may leave it out, but the
     * instance gets HTTP/1.1, which must carry one (RFC 9112 3.2). The outbound edge: nothing to do, a request
     * there names its service in Host or in its proxy-form target (which sets Host).
     */
    void fillHost(HttpRequest request) {
    }

    static HttpRoute outbound(SidecarContext context) {
        return new HttpRoute("outbound", context) {
            @Override
            String service(HttpRequest request) {
                String authority = toOriginForm(request);
                if (authority == null) {
                    authority = request.headers().get(HttpHeaderNames.HOST);
                }
                String host = authority == null ? null : hostOf(authority);
                if (host == null) {
                    return null;
                }
                // Host names are case-insensitive and may end in the root's dot: SVC and svc. are svc, unless
                // the registry itself spells the name that way.
                String canonical = canonicalHost(host);
                return canonical == host || context.registry().contains(canonical) || !context.registry().contains(host) ? canonical : host;
            }

            @Override
            boolean knows(String service) {
                return context.registry().contains(service);
            }

            @Override
            Endpoint pick(String service, List<Endpoint> tried) {
                return context.selector().next(service, tried);
            }
        };
    }

    static HttpRoute inbound(SidecarContext context, Endpoint app) {
        String service = context.config().service();
        return new HttpRoute("inbound", context) {
            /**
             * The app is this edge's one instance, and its instance breaker judges it. The service's own breaker
             * speaks for all of its instances, to every edge: an app that calls its own service through this
             * sidecar reaches the others through it. The local app's failures must not open it, so this edge
             * keeps a breaker of its own that never opens.
             */
            private final CircuitBreaker appOnly = new CircuitBreaker("inbound:" + service,
                    new CircuitBreakerConfig(Integer.MAX_VALUE, 0, 1), context.ticker());

            @Override
            CircuitBreaker serviceBreaker(String s) {
                return appOnly;
            }

            @Override
            String service(HttpRequest request) {
                toOriginForm(request);
                return service;
            }

            @Override
            boolean knows(String s) {
                return true;
            }

            @Override
            void fillHost(HttpRequest request) {
                if (!request.headers().contains(HttpHeaderNames.HOST)) {
                    request.headers().set(HttpHeaderNames.HOST, app.authority());
                }
            }

            @Override
            Endpoint pick(String s, List<Endpoint> tried) {
                return app;
            }

            /** The app is the one instance: a retry needs its breaker, as this edge's own service breaker never opens. */
            @Override
            boolean breakersAllowRetry(String s) {
                return instanceBreaker(s, app).isCallPermitted();
            }

            @Override
            boolean retriesAnswers() {
                return false;
            }
        };
    }

    /**
     * Rewrites an absolute-form URI to origin form, and {@code OPTIONS http://host} to {@code OPTIONS *}
     * (RFC 9112 3.2.4); returns its authority, or null when the URI was not absolute. A fragment is
     * dropped in either form: it is the client's alone, never part of a request target (RFC 9112 3.2),
     * and the next hop could read {@code /public#/../admin} as another path. {@link RequestChecks} have
     * vetted the URI.
     */
    static String toOriginForm(HttpRequest request) {
        String uri = request.uri();
        if (uri.startsWith("/")) {
            int fragment = uri.indexOf('#');
            if (fragment > 0) {
                request.setUri(uri.substring(0, fragment));
            }
            return null;
        }
        int schemeEnd = uri.indexOf("://");
        if (schemeEnd <= 0) {
            return null;
        }
        int authorityStart = schemeEnd + 3;
        int pathStart = authorityStart;
        while (pathStart < uri.length() && "/?#".indexOf(uri.charAt(pathStart)) < 0) {
            pathStart++;
        }
        String authority = uri.substring(authorityStart, pathStart);
        int fragment = uri.indexOf('#', pathStart);
        String rest = uri.substring(pathStart, fragment < 0 ? uri.length() : fragment);
        String path = rest.isEmpty() ? (HttpMethod.OPTIONS.equals(request.method()) ? "*" : "/")
                : rest.charAt(0) == '/' ? rest : "/" + rest;
        request.setUri(path);
        // Only a valid one: this also runs for a request refused for its authority (whose answer names the service),
        // and a control byte, which the request line lets through, would throw as a header value.
        if (!authority.isEmpty() && RequestChecks.validAuthority(authority, 0, authority.length())) {
            request.headers().set(HttpHeaderNames.HOST, authority);
        }
        return authority.isEmpty() ? null : authority;
    }

    /** {@code host} in lower case without a trailing dot; the same instance when it is so already (the common case, no copy). */
    static String canonicalHost(String host) {
        int n = host.length();
        boolean dot = n > 1 && host.charAt(n - 1) == '.';
        boolean upper = false;
        for (int i = 0; i < n && !upper; i++) {
            char c = host.charAt(i);
            upper = c >= 'A' && c <= 'Z';
        }
        if (!dot && !upper) {
            return host;
        }
        String h = dot ? host.substring(0, n - 1) : host;
        return upper ? h.toLowerCase(java.util.Locale.ROOT) : h;
    }

    /** The host of {@code host[:port]} or {@code [v6]:port}; null when empty. */
    static String hostOf(String authority) {
        String a = authority.trim();
        if (a.startsWith("[")) {
            int close = a.indexOf(']');
            return close > 1 ? a.substring(1, close) : null;
        }
        int colon = a.indexOf(':');
        String host = colon >= 0 ? a.substring(0, colon) : a;
        return host.isEmpty() ? null : host;
    }
}

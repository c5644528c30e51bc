package io.outrigger.registry.http;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;

/** A request a server refuses with a 4xx; the message is the reason given in the answer. */
public final class RequestRefused extends Exception {
    private static final long serialVersionUID = 1L;
    private final transient HttpResponseStatus status;
    private final String allow;

    public RequestRefused(HttpResponseStatus status, String message) {
        this(status, message, null);
    }

    private RequestRefused(HttpResponseStatus status, String message, String allow) {
        super(message, null, false, false);
        this.status = status;
        this.allow = allow;
    }

    /** {@code 405} for a request whose method is not {@code allowed}; the answer carries {@code Allow: allowed}. */
    public static RequestRefused methodNotAllowed(HttpMethod method, HttpMethod allowed) {
        return methodNotAllowed(method, allowed, allowed.name());
    }

    /** {@code 405} for a request whose method is not {@code expected}; the answer carries {@code Allow: allow}. */
    public static RequestRefused methodNotAllowed(HttpMethod method, HttpMethod expected, String allow) {
        return new RequestRefused(HttpResponseStatus.METHOD_NOT_ALLOWED,
                "method " + method + " not allowed (expected: " + expected + ")", allow);
    }

    /** The value of {@code Allow}, or null. */
    public String allow() {
        return allow;
    }

    public HttpResponseStatus status() {
        return status;
    }
}

package io.outrigger.registry.http;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;

/** A request a server refuses with a 4xx; the message is the reason given in the answer. */
public final class RequestRefused extends Exception {
    private static final long serialVersionUID = 1L;
    private final transient HttpResponseStatus status;
    private final transient HttpMethod allow;

    public RequestRefused(HttpResponseStatus status, String message) {
        this(status, message, null);
    }

    private RequestRefused(HttpResponseStatus status, String message, HttpMethod allow) {
        super(message, null, false, false);
        this.status = status;
        this.allow = allow;
    }

    /** {@code 405} for a request whose method is not {@code allowed}; the answer carries {@code Allow}. */
    public static RequestRefused methodNotAllowed(HttpMethod method, HttpMethod allowed) {
        return new RequestRefused(HttpResponseStatus.METHOD_NOT_ALLOWED,
                "method " + method + " not allowed (expected: " + allowed + ")", allowed);
    }

    /** The method to name in {@code Allow}, or null. */
    public HttpMethod allow() {
        return allow;
    }

    public HttpResponseStatus status() {
        return status;
    }
}

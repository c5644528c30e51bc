package io.outrigger.registry.http;

import io.netty.handler.codec.http.HttpResponseStatus;

/** A request a server refuses with a 4xx; the message is the reason given in the answer. */
public final class RequestRefused extends Exception {
    private static final long serialVersionUID = 1L;
    private final transient HttpResponseStatus status;

    public RequestRefused(HttpResponseStatus status, String message) {
        super(message, null, false, false);
        this.status = status;
    }

    public HttpResponseStatus status() {
        return status;
    }
}

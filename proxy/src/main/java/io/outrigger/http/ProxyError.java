package io.outrigger.http;

import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * Every error the sidecar answers by itself, with its status and the message of its JSON body:
 * the one place where failures map to HTTP statuses.
 */
public enum ProxyError {
    MALFORMED_REQUEST(HttpResponseStatus.BAD_REQUEST, "malformed request"),
    NON_ASCII_TARGET(HttpResponseStatus.BAD_REQUEST, "request target must be visible ASCII: percent-encode other bytes"),
    UNSUPPORTED_TRANSFER_CODING(HttpResponseStatus.BAD_REQUEST, "unsupported transfer coding: only chunked is relayed"),
    MISSING_HOST(HttpResponseStatus.BAD_REQUEST, "no service named: Host header or absolute URI missing"),
    CONNECT_UNSUPPORTED(HttpResponseStatus.BAD_REQUEST, "CONNECT tunnels are not supported: send plain HTTP"),
    BAD_TARGET(HttpResponseStatus.BAD_REQUEST, "request target must be /path, http://host/path, or * for OPTIONS"),
    BAD_HOST(HttpResponseStatus.BAD_REQUEST, "invalid Host or target authority (expected: host[:port], no user information)"),
    HTTP_VERSION_NOT_SUPPORTED(HttpResponseStatus.HTTP_VERSION_NOT_SUPPORTED, "only HTTP/1.0 and HTTP/1.1 are served"),
    UNSUPPORTED_SCHEME(HttpResponseStatus.BAD_REQUEST, "only http:// targets are proxied: the sidecar neither makes TLS connections nor tunnels them"),
    HEADERS_TOO_LARGE(HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request header block too large"),
    REQUEST_LINE_TOO_LONG(HttpResponseStatus.REQUEST_URI_TOO_LONG, "request line too long"),
    PIPELINE_TOO_DEEP(HttpResponseStatus.BAD_REQUEST, "more than " + HttpListenerCodec.MAX_PIPELINE_DEPTH
            + " pipelined requests waiting for an answer: send the rest on a new connection"),
    BODY_TOO_LARGE(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large"),
    HEADERS_TIMEOUT(HttpResponseStatus.REQUEST_TIMEOUT, "request headers not received within http.header_timeout_ms"),
    UNKNOWN_SERVICE(HttpResponseStatus.NOT_FOUND, "unknown service"),
    REGISTRY_NOT_READY(HttpResponseStatus.SERVICE_UNAVAILABLE, "the registry has not answered yet: the service may exist"),
    NO_HEALTHY_INSTANCE(HttpResponseStatus.SERVICE_UNAVAILABLE, "no healthy instance"),
    BREAKER_OPEN(HttpResponseStatus.SERVICE_UNAVAILABLE, "circuit breaker open"),
    UPSTREAM_REFUSED(HttpResponseStatus.BAD_GATEWAY, "upstream refused the connection"),
    UPSTREAM_RESET(HttpResponseStatus.BAD_GATEWAY, "upstream reset the connection"),
    OUT_OF_DESCRIPTORS(HttpResponseStatus.BAD_GATEWAY, "the sidecar cannot open a connection to the upstream: too many open files"),
    OUT_OF_MEMORY(HttpResponseStatus.BAD_GATEWAY, "the sidecar ran out of memory for its connection to the upstream"),
    UPSTREAM_BAD_RESPONSE(HttpResponseStatus.BAD_GATEWAY, "upstream sent a malformed response"),
    UPSTREAM_TIMEOUT(HttpResponseStatus.GATEWAY_TIMEOUT, "upstream timed out");

    private final HttpResponseStatus status;
    private final String message;

    ProxyError(HttpResponseStatus status, String message) {
        this.status = status;
        this.message = message;
    }

    public HttpResponseStatus status() {
        return status;
    }

    public String message() {
        return message;
    }

    /** Whether the client connection must be closed after this error (its request stream cannot be trusted). */
    public boolean closesConnection() {
        return this == MALFORMED_REQUEST || this == NON_ASCII_TARGET || this == UNSUPPORTED_TRANSFER_CODING
                || this == HEADERS_TOO_LARGE || this == REQUEST_LINE_TOO_LONG || this == BODY_TOO_LARGE || this == PIPELINE_TOO_DEEP
                || this == HTTP_VERSION_NOT_SUPPORTED || this == HEADERS_TIMEOUT // a client of another version does not frame as HTTP/1.1
                || this == CONNECT_UNSUPPORTED || this == BAD_TARGET; // what follows a tunnel request is the tunnel's, not HTTP
    }
}

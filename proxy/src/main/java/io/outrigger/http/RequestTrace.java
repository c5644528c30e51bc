package io.outrigger.http;

import io.netty.handler.codec.http.HttpHeaders;
import io.outrigger.trace.TraceIds;
import io.outrigger.trace.TraceParent;

/**
 * The trace identity of one request at this hop: its {@code x-request-id} (the caller's, or a new
 * UUID) and this hop's span ({@code traceparent} continued with a new parent id, or a new trace).
 * Every response the sidecar gives carries both, also the errors it makes before a request could
 * be forwarded, so a caller can always find the request in the access log.
 *
 * @param requestId   the request id to forward and echo
 * @param newRequestId whether the sidecar made the request id (the request had none)
 * @param traceId     the trace id, for the access log
 * @param traceparent this hop's {@code traceparent} value, to forward and echo
 */
record RequestTrace(String requestId, boolean newRequestId, String traceId, String traceparent) {

    /** The trace of a request with these headers; {@code headers} null (a head that could not be read) starts a new trace. */
    static RequestTrace of(HttpHeaders headers) {
        String requestId = headers == null ? null : headers.get(ProxyExchange.X_REQUEST_ID);
        boolean made = requestId == null || requestId.isEmpty();
        if (made) {
            requestId = TraceIds.randomUuid();
        }
        TraceParent parent = headers == null ? null : TraceParent.parse(headers.get(ProxyExchange.TRACEPARENT));
        TraceParent span = parent == null ? TraceParent.newRoot() : parent.newChild();
        return new RequestTrace(requestId, made, span.traceId(), span.format());
    }

    /** Sets both headers on a response (or a request) going out. */
    void applyTo(HttpHeaders headers) {
        headers.set(ProxyExchange.X_REQUEST_ID, requestId).set(ProxyExchange.TRACEPARENT, traceparent);
    }
}

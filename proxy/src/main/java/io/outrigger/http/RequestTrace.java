package io.outrigger.http;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import io.outrigger.trace.TraceIds;
import io.outrigger.trace.TraceParent;

/**
 * The trace identity of one request at this hop: its {@code x-request-id} (the caller's, or a new
 * UUID) and this hop's span ({@code traceparent} continued with a new parent id, or a new trace).
 * Every response the sidecar gives carries both, also the errors it makes before a request could
 * be forwarded, so a caller can always find the request in the access log.
 *
 * <p>The ids the sidecar makes are {@link AsciiString}s over the bytes they were written into, the
 * trace id a view of the {@code traceparent}'s: made for every request, they cost one array each and
 * no copy, and the header encoder copies their bytes as they are.
 *
 * @param requestId   the request id to forward and echo
 * @param traceId     the trace id, for the access log
 * @param traceparent this hop's {@code traceparent} value, to forward and echo
 * @param continued   whether the caller's trace is continued; when it is not (no {@code traceparent},
 *                    an invalid one or two of them), its {@code tracestate} belongs to no trace and is
 *                    not forwarded (W3C Trace Context, processing model)
 */
record RequestTrace(CharSequence requestId, CharSequence traceId, CharSequence traceparent, boolean continued) {

    /** The trace of a request with these headers; {@code headers} null (a head that could not be read) starts a new trace. */
    static RequestTrace of(HttpHeaders headers) {
        CharSequence requestId = headers == null ? null : headers.get(ProxyExchange.X_REQUEST_ID);
        if (requestId == null || requestId.length() == 0) {
            requestId = new AsciiString(TraceIds.randomUuidBytes(), false);
        }
        TraceParent parent = headers == null ? null : TraceParent.parse(headers.get(ProxyExchange.TRACEPARENT));
        if (parent != null && headers.getAll(ProxyExchange.TRACEPARENT).size() > 1) {
            parent = null; // two traceparents: which trace is this? A new one (the W3C test suite's expectation).
        }
        byte[] span = TraceParent.newSpan(parent);
        return new RequestTrace(requestId, new AsciiString(span, TraceParent.TRACE_ID_OFFSET, 32, false),
                new AsciiString(span, false), parent != null);
    }

    /**
     * Takes the trace fields out of a trailer section going on: they belong in the head, where this hop
     * set its own, and a trailer copy (a caller's or an instance's old ids) would contradict those.
     */
    static void dropFromTrailers(HttpHeaders trailers) {
        if (!trailers.isEmpty()) {
            trailers.remove(ProxyExchange.TRACEPARENT).remove(ForwardedRequest.TRACESTATE).remove(ProxyExchange.X_REQUEST_ID);
        }
    }

    /** Sets both headers on a response (or a request) going out. */
    void applyTo(HttpHeaders headers) {
        headers.set(ProxyExchange.X_REQUEST_ID, requestId).set(ProxyExchange.TRACEPARENT, traceparent);
    }
}

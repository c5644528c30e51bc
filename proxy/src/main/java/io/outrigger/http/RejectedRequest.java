package io.outrigger.http;

import io.netty.handler.codec.http.HttpRequest;

/**
 * A user event from {@link HttpRequestGuard}: the request cannot be served and the connection
 * must close after the error response.
 *
 * @param error the answer
 * @param head  the request's head when it was read whole (a body too large by its declared length),
 *              so the answer can name the service and continue the trace; null when the head itself
 *              was refused (malformed, too large)
 * @param startNanos when the request's first byte came in (the event loop's ticker), so a refusal's duration
 *                   (a 408 after {@code http.header_timeout_ms}) is logged and measured as it was; 0 when unknown
 */
record RejectedRequest(ProxyError error, HttpRequest head, long startNanos) {
}

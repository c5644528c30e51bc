package io.outrigger.http;

/**
 * A user event from {@link HttpRequestGuard}: the request cannot be served and the connection
 * must close after the error response.
 */
record RejectedRequest(ProxyError error) {
}

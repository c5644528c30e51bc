package io.outrigger.upstream;

/**
 * The exchange that currently leases an upstream connection: told about everything that
 * happens on it. Called on the connection's event loop only.
 */
public interface UpstreamListener {
    /** A decoded message of the response ({@code HttpResponse}, {@code HttpContent}); the listener owns it. */
    void onUpstreamRead(Object msg);

    /** The end of one read burst: the moment to flush what was relayed. */
    void onUpstreamReadComplete();

    /** The connection's writability changed (request body backpressure). */
    void onUpstreamWritabilityChanged(boolean writable);

    /** The connection closed or was reset while leased; {@code cause} is null on a plain close. */
    void onUpstreamClosed(Throwable cause);
}

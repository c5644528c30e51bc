package io.outrigger.listener;

import java.io.IOException;
import java.nio.channels.UnresolvedAddressException;

/**
 * A listener's port could not be bound: taken by another process, privileged, or an address that
 * is not this host's. A mistake in the config (or the machine), not a bug: the CLI prints the
 * message as one line, which names the address, the config key and the system's reason, for example
 * {@code cannot listen on 127.0.0.1:15000 (listeners.admin.port): Address already in use}.
 */
public final class ListenerBindException extends Exception {
    private static final long serialVersionUID = 1L;

    /** {@code cause}: the system refused the bind (an {@link IOException}), or the address names none ({@link UnresolvedAddressException}). */
    public ListenerBindException(String host, int port, String key, Exception cause) {
        super("cannot listen on " + host + ":" + port + " (" + key + "): " + reason(cause), cause);
    }

    /**
     * The reason in words, for this message and the registry stub's: the system's words only (Netty's
     * native transports say {@code bind(..) failed with error(-98): Address already in use}, the JDK's
     * {@code Address already in use}); for an address that resolves to none, which carries no message,
     * what was expected.
     */
    public static String reason(Exception e) {
        if (e instanceof UnresolvedAddressException) {
            return "no such address (expected: an IP address or a host name that resolves to one of this host's)";
        }
        String m = e.getMessage();
        if (m == null || m.isBlank()) {
            return e.getClass().getSimpleName();
        }
        int cut = m.lastIndexOf("): ");
        return cut >= 0 ? m.substring(cut + 3) : m;
    }
}

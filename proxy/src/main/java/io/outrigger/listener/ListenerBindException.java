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

    private final String host;
    private final int port;
    private final String key;

    /** {@code cause}: the system refused the bind (an {@link IOException}), or the address names none ({@link UnresolvedAddressException}). */
    public ListenerBindException(String host, int port, String key, Exception cause) {
        super(message(host, port, key, cause), cause);
        this.host = host;
        this.port = port;
        this.key = key;
    }

    /** The config key the port (or address) came from, such as {@code listeners.admin.port}. */
    public String key() {
        return key;
    }

    /**
     * The message with the setting named as the user gave it: {@code origin} replaces the config key, for
     * a port that came from a command-line flag ({@code --admin-port}) rather than from the config file.
     */
    public String messageFrom(String origin) {
        return message(host, port, origin, (Exception) getCause());
    }

    private static String message(String host, int port, String origin, Exception cause) {
        return "cannot listen on " + host + ":" + port + " (" + origin + "): " + reason(cause);
    }

    /**
     * Whether the system refused the bind because the address is not one of this host's ({@code EADDRNOTAVAIL}):
     * the address is at fault then, not the port. Told by the system's words, which Netty's native transports
     * ({@code bind(..) failed with error(-99): Cannot assign requested address}) and the JDK share.
     */
    public static boolean addressNotLocal(Exception e) {
        return "Cannot assign requested address".equals(reason(e));
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

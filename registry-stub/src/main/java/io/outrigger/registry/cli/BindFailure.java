package io.outrigger.registry.cli;

import java.nio.channels.UnresolvedAddressException;

/** The words for a server that could not start listening: the system's message, or what it left unsaid. */
final class BindFailure {
    private BindFailure() {
    }

    /** {@code cannot listen on HOST:PORT: REASON}, for a {@link UserException}. */
    static String message(String host, int port, Exception e) {
        String reason;
        if (e instanceof UnresolvedAddressException) { // carries no message at all
            reason = "no such address (expected: an IP address or a host name that resolves to one of this host's)";
        } else if (e.getMessage() == null || e.getMessage().isBlank()) {
            reason = e.getClass().getSimpleName();
        } else {
            reason = e.getMessage();
        }
        return "cannot listen on " + host + ":" + port + ": " + reason;
    }
}

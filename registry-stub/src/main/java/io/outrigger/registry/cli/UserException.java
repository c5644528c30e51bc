package io.outrigger.registry.cli;

/** A mistake of the user's (bad seed file, port in use): printed as one line, exit code 1. */
final class UserException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UserException(String message) {
        super(message, null, false, false);
    }
}

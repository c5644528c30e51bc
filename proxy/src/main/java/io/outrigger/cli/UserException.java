package io.outrigger.cli;

/** A mistake of the user's (bad config, missing file): printed as one line, exit code 1. */
public final class UserException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public UserException(String message) {
        super(message, null, false, false);
    }
}

package io.outrigger.discovery;

/** A registry source that cannot be used; the message says which and why, for the user. */
public final class RegistryException extends Exception {
    private static final long serialVersionUID = 1L;

    public RegistryException(String message) {
        super(message);
    }
}

package io.outrigger.config;

/**
 * A configuration the sidecar cannot run with. The message is one line for the user:
 * file, key, value and what was expected, as in {@code "sidecar.yaml: listeners.admin.port: -1 (expected: 0..65535)"}.
 */
public final class ConfigException extends Exception {
    private static final long serialVersionUID = 1L;

    public ConfigException(String message) {
        super(message);
    }
}

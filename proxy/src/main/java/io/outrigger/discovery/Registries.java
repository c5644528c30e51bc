package io.outrigger.discovery;

import java.nio.file.Path;

/** Opens the registry a config or flag names. */
public final class Registries {
    private Registries() {
    }

    /**
     * Opens {@code embedded} (the jar's copy of {@code config/registry.json}), {@code file:PATH}
     * or a plain path, or {@code http://HOST:PORT} (a Consul-style registry).
     */
    public static Registry open(String spec) throws RegistryException {
        if (spec == null || spec.equals("embedded")) {
            return FileRegistry.embedded();
        }
        if (spec.startsWith("file:")) {
            return FileRegistry.load(Path.of(spec.substring("file:".length())));
        }
        if (spec.startsWith("http://")) {
            throw new RegistryException("registry " + spec + ": Consul-style registries are not supported yet");
        }
        return FileRegistry.load(Path.of(spec));
    }
}

package io.outrigger.discovery;

import java.net.URI;
import java.net.URISyntaxException;
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
            return consul(spec, ConsulRegistry.Settings.DEFAULT);
        }
        return FileRegistry.load(Path.of(spec));
    }

    /** Opens a Consul-style registry at {@code http://HOST:PORT}; it starts watching at once. */
    public static ConsulRegistry consul(String spec, ConsulRegistry.Settings settings) throws RegistryException {
        URI uri;
        try {
            uri = new URI(spec);
        } catch (URISyntaxException e) {
            throw new RegistryException("registry " + spec + ": not a URL (expected: http://HOST:PORT)");
        }
        String path = uri.getRawPath();
        if (!"http".equals(uri.getScheme()) || uri.getHost() == null || uri.getPort() < 1 || uri.getPort() > 65535
                || uri.getRawQuery() != null || uri.getRawUserInfo() != null || (path != null && !path.isEmpty() && !path.equals("/"))) {
            throw new RegistryException("registry " + spec + ": expected http://HOST:PORT");
        }
        String host = uri.getHost();
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        return new ConsulRegistry(host, uri.getPort(), settings);
    }
}

package io.outrigger.cli;

import io.outrigger.config.ConfigException;
import io.outrigger.config.ConfigLoader;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.Endpoint;

/** Applies the {@code run} command's flags over a loaded config, validating each like the file's keys. */
final class ConfigOverrides {
    private ConfigOverrides() {
    }

    static SidecarConfig apply(SidecarConfig c, String name, String registry, Integer adminPort,
                               Integer outboundPort, Integer inboundPort, String app) throws ConfigException {
        SidecarConfig.Listeners l = c.listeners();
        SidecarConfig.Port admin = adminPort == null ? l.admin() : new SidecarConfig.Port(checkPort("--admin-port", adminPort));
        SidecarConfig.Port outbound = outboundPort == null ? l.outbound() : new SidecarConfig.Port(checkPort("--outbound-port", outboundPort));
        SidecarConfig.Inbound inbound = l.inbound();
        if (inboundPort != null || app != null) {
            Endpoint appEndpoint = inbound == null ? Endpoint.parse("127.0.0.1:8080") : inbound.app();
            if (app != null) {
                try {
                    appEndpoint = Endpoint.parse(app);
                } catch (IllegalArgumentException e) {
                    throw new ConfigException("--app: " + app + " (expected: host:port)");
                }
            }
            if (inbound == null && inboundPort == null) {
                // "A listener left out is not opened": --app alone would open one on 15006 the config never asked for.
                throw new ConfigException("--app: " + app + " (expected: an inbound listener to point at the app:"
                        + " listeners.inbound in the config, or --inbound-port)");
            }
            int port = inboundPort != null ? checkPort("--inbound-port", inboundPort) : inbound == null ? 15006 : inbound.port();
            inbound = new SidecarConfig.Inbound(port, appEndpoint);
        }
        if (name != null && name.isBlank()) {
            throw new ConfigException("--name: \"" + name + "\" (expected: a non-empty string)");
        }
        if (name != null && !ConfigLoader.isToken(name)) {
            throw new ConfigException("--name: \"" + name + "\" (expected: " + ConfigLoader.NAME_EXPECTED + ")");
        }
        if (registry != null && !registry.equals("embedded") && !registry.startsWith("file:") && !registry.startsWith("http://")) {
            throw new ConfigException("--registry: " + registry + " (expected: file:PATH, http://HOST:PORT or embedded)");
        }
        return new SidecarConfig(name != null ? name : c.name(), c.service(), registry != null ? registry : c.registry(),
                c.bindAddress(), new SidecarConfig.Listeners(admin, outbound, inbound, l.jsonline(), l.tcp()),
                c.resilience(), c.http(), c.health(), c.drainMillis(), c.ioThreads(), c.maxConnections());
    }

    private static int checkPort(String flag, int port) throws ConfigException {
        if (port < 0 || port > 65535) {
            throw new ConfigException(flag + ": " + port + " (expected: 0..65535)");
        }
        return port;
    }
}

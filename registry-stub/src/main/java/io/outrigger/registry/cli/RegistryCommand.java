package io.outrigger.registry.cli;

import io.outrigger.cli.UserException;
import io.outrigger.listener.ListenerBindException;

import io.outrigger.registry.consul.Registration;
import io.outrigger.registry.consul.RegistryServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code registry-stub registry --port 8500 [--seed config/registry.json]}: the Consul-style registry stub. */
@Command(name = "registry", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "Run a Consul-style registry stub (register, deregister, health with blocking queries, catalog).")
public final class RegistryCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(RegistryCommand.class);

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--port", defaultValue = "8500", description = "Port to listen on; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--seed", paramLabel = "FILE", description = "A registry.json file whose instances are registered at start, without checks.")
    Path seed;

    @Override
    public Integer call() throws Exception {
        if (port < 0 || port > 65535) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--port: " + port + " (expected: 0..65535)");
        }
        List<Registration> instances;
        try {
            instances = seed == null ? List.of() : RegistryServer.readSeed(seed);
        } catch (IOException e) {
            throw new UserException("--seed: " + e.getMessage());
        }
        RegistryServer server;
        try {
            server = RegistryServer.start(host, port, instances);
        } catch (Exception e) {
            throw new UserException("cannot listen on " + host + ":" + port + ": " + ListenerBindException.reason(e));
        }
        log.info("registry stub listening on {}:{} ({} seeded instances)", host, server.port(), instances.size());
        Shutdown.awaitThen(server);
        return 0;
    }
}

package io.outrigger.cli;

import io.outrigger.Sidecar;
import io.outrigger.SidecarContext;
import io.outrigger.config.ConfigException;
import io.outrigger.config.ConfigLoader;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.Registries;
import io.outrigger.discovery.Registry;
import io.outrigger.discovery.RegistryException;
import io.outrigger.lifecycle.Drain;
import io.outrigger.lifecycle.TerminationSignals;
import io.outrigger.listener.ListenerBindException;
import io.outrigger.metrics.MicrometerProxyMetrics;
import io.outrigger.time.Ticker;
import picocli.CommandLine.Command;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code outrigger run --config FILE}: the sidecar beside a service. SIGTERM or SIGINT starts a
 * {@link Drain} over {@code drain_ms}; the command returns 0 (the exit code) at its deadline.
 */
@Command(name = "run", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "Run the sidecar with a YAML config (every key has a default).")
public final class RunCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(RunCommand.class);

    @Option(names = "--config", paramLabel = "FILE", description = "YAML config file (see config/sidecar.yaml).")
    Path config;

    @Option(names = "--name", description = "Overrides name.")
    String name;

    @Option(names = "--registry", description = "Overrides registry: file:PATH, http://HOST:PORT or embedded.")
    String registry;

    @Option(names = "--admin-port", description = "Overrides listeners.admin.port.")
    Integer adminPort;

    @Option(names = "--outbound-port", description = "Overrides listeners.outbound.port.")
    Integer outboundPort;

    @Option(names = "--inbound-port", description = "Overrides listeners.inbound.port.")
    Integer inboundPort;

    @Option(names = "--app", paramLabel = "HOST:PORT", description = "Overrides listeners.inbound.app.")
    String app;

    @Override
    public Integer call() throws Exception {
        SidecarConfig cfg = loadConfig();
        Registry reg;
        try {
            reg = Registries.open(cfg.registry());
        } catch (RegistryException e) {
            // Named by where the setting came from, like every other config error.
            String origin = registry != null ? "--registry" : config != null ? config + ": registry" : "registry";
            throw new UserException(origin + ": " + e.getMessage());
        }
        MicrometerProxyMetrics metrics = MicrometerProxyMetrics.create(cfg.name());
        SidecarContext context = new SidecarContext(cfg, reg, Ticker.system(), metrics);
        metrics.bindTo(context);
        Sidecar sidecar = new Sidecar(context);
        Drain drain = new Drain(sidecar, cfg.drainMillis());
        // Before start: a signal that comes while the listeners bind already drains (and keeps /ready at 503).
        TerminationSignals.handle(signal -> {
            if (!drain.begin("SIG" + signal + " received")) {
                log.info("SIG{} while draining: exiting at the deadline, in {} ms", signal, drain.remainingMillis());
            }
        });
        try {
            sidecar.start();
        } catch (ListenerBindException e) {
            // A port taken or not allowed: the config's (or the machine's) mistake, named as the user gave the port.
            throw new UserException(e.messageFrom(origin(e.key())));
        }
        // Reached when the JVM exits otherwise (SIGHUP, a signal that could not be handled): the same drain, then close.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            drain.begin();
            drain.awaitDeadlineAndClose();
        }, "outrigger-shutdown"));
        drain.awaitDeadlineAndClose();
        return 0;
    }

    /** Where the setting {@code key} came from: the flag that overrode it, else the key itself. */
    String origin(String key) {
        return switch (key) {
            case "listeners.admin.port" -> adminPort != null ? "--admin-port" : key;
            case "listeners.outbound.port" -> outboundPort != null ? "--outbound-port" : key;
            case "listeners.inbound.port" -> inboundPort != null ? "--inbound-port" : key;
            default -> key;
        };
    }

    /** The config file with the command-line overrides applied, validated. */
    SidecarConfig loadConfig() {
        try {
            SidecarConfig cfg = config == null ? ConfigLoader.parse("", "(defaults)") : ConfigLoader.load(config);
            return ConfigOverrides.apply(cfg, name, registry, adminPort, outboundPort, inboundPort, app);
        } catch (ConfigException e) {
            throw new UserException(e.getMessage());
        }
    }
}

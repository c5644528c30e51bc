package io.outrigger.registry.cli;

import io.outrigger.cli.UserException;
import io.outrigger.listener.ListenerBindException;

import io.outrigger.registry.consul.Durations;
import io.outrigger.registry.fake.Behaviour;
import io.outrigger.registry.fake.FakeService;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.concurrent.Callable;

/**
 * {@code registry-stub fake-service --name service-b --port 9001 [--register URL] [--fail-rate R] [--latency-ms N]}:
 * a fake service instance that echoes requests, fails and slows down on demand, and calls others through its sidecar.
 */
@Command(name = "fake-service", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {"Run a fake service: any path answers {service, instance, method, path, headers}.",
                "GET /health is 200 unless failing (fail rate 1.0, or POST /admin/health?fail=true).",
                "POST /admin/fail?rate=R, POST /admin/latency?ms=N change behaviour at run time.",
                "GET /call/SERVICE/PATH calls SERVICE through the sidecar (--sidecar or HTTP_PROXY)."})
public final class FakeServiceCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--name", required = true, description = "The service name, e.g. service-b.")
    String name;

    @Option(names = "--port", defaultValue = "0", description = "Port to listen on; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--instance-id", description = "Instance id (default: NAME-PORT).")
    String instanceId;

    @Option(names = "--advertise", description = "Address registered with the registry (default: --host, or this host's name when binding 0.0.0.0).")
    String advertise;

    @Option(names = "--register", paramLabel = "URL", description = "Registry to register with, e.g. http://127.0.0.1:8500.")
    String register;

    @Option(names = "--fail-rate", defaultValue = "0.0", description = "Share of requests answered 500, 0.0..1.0; 1.0 also fails /health (default: ${DEFAULT-VALUE}).")
    double failRate;

    @Option(names = "--latency-ms", defaultValue = "0", description = "Delay before each answer (default: ${DEFAULT-VALUE}).")
    long latencyMillis;

    @Option(names = "--sidecar", paramLabel = "URL", description = "The sidecar's outbound listener for /call (default: $HTTP_PROXY).")
    String sidecar;

    @Option(names = "--check-interval", defaultValue = "1s", description = "Interval of the registered /health check (default: ${DEFAULT-VALUE}).")
    String checkInterval;

    @Option(names = "--deregister-after", defaultValue = "1m", description = "The registry drops the instance once critical this long (default: ${DEFAULT-VALUE}).")
    String deregisterAfter;

    @Option(names = "--sync-interval", defaultValue = "5s", description = "How often a registered instance looks whether the registry still lists it,"
            + " registering again with a registry that restarted (default: ${DEFAULT-VALUE}).")
    String syncInterval;

    @Override
    public Integer call() throws Exception {
        if (port < 0 || port > 65535) {
            throw usage("--port: " + port + " (expected: 0..65535)");
        }
        Behaviour behaviour = new Behaviour(0, 0);
        try {
            behaviour.setFailRate(failRate);
        } catch (IllegalArgumentException e) {
            throw usage(option("--fail-rate", e));
        }
        try {
            behaviour.setLatencyMillis(latencyMillis);
        } catch (IllegalArgumentException e) {
            throw usage(option("--latency-ms", e));
        }
        duration("--check-interval", checkInterval);
        duration("--deregister-after", deregisterAfter);
        long syncMillis = duration("--sync-interval", syncInterval);
        URI registry = register == null ? null : url("--register", register);
        String proxy = sidecar != null ? sidecar : envProxy();
        URI sidecarUri = proxy == null || proxy.isBlank() ? null : url(sidecar != null ? "--sidecar" : "HTTP_PROXY", proxy);
        FakeService.Settings s = new FakeService.Settings(name, instanceId, host, port, advertise(), registry, sidecarUri,
                checkInterval, deregisterAfter, 10_000, syncMillis);
        try {
            FakeService.validate(s);
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
        FakeService service;
        try {
            service = FakeService.start(s, behaviour);
        } catch (Exception e) {
            throw new UserException("cannot listen on " + host + ":" + port + ": " + ListenerBindException.reason(e));
        }
        Shutdown.awaitThen(service);
        return 0;
    }

    private String advertise() {
        if (advertise != null || !host.equals("0.0.0.0")) {
            return advertise;
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            throw new UserException("--advertise: needed when binding 0.0.0.0 (this host's name is unknown: " + e.getMessage() + ")");
        }
    }

    private static String envProxy() {
        String p = System.getenv("HTTP_PROXY");
        return p != null ? p : System.getenv("http_proxy");
    }

    /** The duration in milliseconds; a usage error unless it is a Consul duration > 0. */
    private long duration(String option, String value) {
        long millis;
        try {
            millis = Durations.parseMillis(value);
        } catch (IllegalArgumentException e) {
            throw usage(option + ": " + e.getMessage());
        }
        if (millis <= 0) {
            throw usage(option + ": " + value + " (expected: a duration > 0)");
        }
        return millis;
    }

    private URI url(String option, String value) {
        try {
            URI u = new URI(value);
            if ("http".equals(u.getScheme()) && u.getHost() != null && u.getPort() > 0 && u.getPort() <= 65535) {
                return u;
            }
        } catch (java.net.URISyntaxException e) {
            // reported below
        }
        throw usage(option + ": " + value + " (expected: http://HOST:PORT)");
    }

    /** {@code Behaviour}'s reason ("rate: 2.0 (expected: ...)") with the option to blame in place of its own name. */
    private static String option(String option, IllegalArgumentException e) {
        String reason = e.getMessage();
        return option + reason.substring(reason.indexOf(':'));
    }

        private CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }
}

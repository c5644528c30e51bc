package io.outrigger.it.harness;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The two-service mesh as seven JVMs on 127.0.0.1, each on free ports: the registry stub,
 * service-a and two service-b instances (fake services), and a sidecar beside each.
 *
 * <p>Start order: registry and apps; then the service-b instances are registered at their
 * sidecars' inbound ports (no registry check: the sidecars' breakers and retries, not the
 * registry, route around a failing instance here); then the sidecars. {@link #start} returns
 * once every component answers its readiness endpoint. Not thread-safe.
 */
public final class LoopbackTopology implements Topology {
    /** How long the whole topology may take to become ready (seven JVMs on two cores). */
    public static final Duration START_TIMEOUT = Duration.ofSeconds(60);

    private final ProcessGroup group = new ProcessGroup();
    private final Http http = Http.direct();
    private final List<String> description = new ArrayList<>();
    private final List<ManagedProcess> serviceB = new ArrayList<>();
    private final List<URI> serviceBControl = new ArrayList<>();
    private URI serviceA;
    private URI sidecarAAdmin;
    private Http asServiceA;
    private int sidecarAOutbound;
    private int registryPort;
    private final Consumer<String> progress;

    private LoopbackTopology(Consumer<String> progress) {
        this.progress = progress;
    }

    /**
     * Starts the mesh from the layout's jars; logs and configs go to {@code <logDir>/<label>-<name>.*}.
     * On any failure every process already started is stopped before the exception propagates.
     *
     * @param progress told of each step as it completes (the demo prints them)
     */
    public static LoopbackTopology start(ProjectLayout layout, String label, Consumer<String> progress) {
        layout.requireJars();
        LoopbackTopology t = new LoopbackTopology(progress);
        try {
            t.startAll(layout, label);
            return t;
        } catch (RuntimeException | Error e) {
            t.close();
            throw e;
        }
    }

    private void startAll(ProjectLayout layout, String label) {
        Path logs = layout.logDir();
        String stub = layout.registryStubJar().toString();
        registryPort = FreePorts.next();
        int appA = FreePorts.next();
        int[] appB = {FreePorts.next(), FreePorts.next()};
        int adminA = FreePorts.next();
        sidecarAOutbound = FreePorts.next();
        int inboundA = FreePorts.next();
        int[] adminB = {FreePorts.next(), FreePorts.next()};
        int[] inboundB = {FreePorts.next(), FreePorts.next()};

        ManagedProcess registry = group.add(ManagedProcess.startJava(label + "-registry",
                List.of("-jar", stub, "registry", "--port", String.valueOf(registryPort)), Map.of(), logs));
        describe(registry, "registry stub", "http://127.0.0.1:" + registryPort);
        ManagedProcess a = group.add(ManagedProcess.startJava(label + "-service-a",
                List.of("-jar", stub, "fake-service", "--name", "service-a", "--port", String.valueOf(appA)),
                Map.of("HTTP_PROXY", "http://127.0.0.1:" + sidecarAOutbound), logs));
        describe(a, "service-a app", "http://127.0.0.1:" + appA);
        for (int i = 0; i < 2; i++) {
            ManagedProcess b = group.add(ManagedProcess.startJava(label + "-service-b" + (i + 1),
                    List.of("-jar", stub, "fake-service", "--name", "service-b", "--port", String.valueOf(appB[i])), Map.of(), logs));
            describe(b, "service-b app #" + (i + 1), "http://127.0.0.1:" + appB[i]);
            serviceB.add(b);
            serviceBControl.add(URI.create("http://127.0.0.1:" + appB[i]));
        }

        progress.accept("started the registry stub, service-a and two service-b instances");
        registry.awaitReady("GET /v1/catalog/services", START_TIMEOUT, () -> http.isOk(url(registryPort, "/v1/catalog/services")));
        for (int i = 0; i < 2; i++) {
            register("service-b-" + (i + 1), "service-b", inboundB[i]);
        }
        progress.accept("registry ready; service-b registered at its sidecars' inbound ports " + inboundB[0] + " and " + inboundB[1]);

        List<ManagedProcess> sidecars = new ArrayList<>();
        List<Integer> adminPorts = new ArrayList<>();
        sidecars.add(startSidecar(layout, label, "sidecar-a", "service-a", adminA, sidecarAOutbound, inboundA, appA));
        adminPorts.add(adminA);
        for (int i = 0; i < 2; i++) {
            sidecars.add(startSidecar(layout, label, "sidecar-b" + (i + 1), "service-b", adminB[i], 0, inboundB[i], appB[i]));
            adminPorts.add(adminB[i]);
        }

        progress.accept("started sidecar-a, sidecar-b1, sidecar-b2");
        a.awaitReady("GET /health", START_TIMEOUT, () -> http.isOk(url(appA, "/health")));
        for (int i = 0; i < 2; i++) {
            int port = appB[i];
            serviceB.get(i).awaitReady("GET /health", START_TIMEOUT, () -> http.isOk(url(port, "/health")));
        }
        for (int i = 0; i < sidecars.size(); i++) {
            int port = adminPorts.get(i);
            sidecars.get(i).awaitReady("GET /ready", START_TIMEOUT, () -> http.isOk(url(port, "/ready")));
        }
        progress.accept("every component answers its readiness check");
        serviceA = url(inboundA, "");
        sidecarAAdmin = url(adminA, "");
        asServiceA = Http.viaProxy(sidecarAOutbound);
    }

    private ManagedProcess startSidecar(ProjectLayout layout, String label, String name, String service,
                                        int admin, int outbound, int inbound, int app) {
        Path config = layout.logDir().resolve(label + "-" + name + ".yaml");
        try {
            Files.createDirectories(config.getParent());
            Files.writeString(config, SidecarYaml.sidecar(name, service, registryPort, admin, outbound, inbound, app));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + config, e);
        }
        ManagedProcess p = group.add(ManagedProcess.startJava(label + "-" + name,
                List.of("-jar", layout.proxyJar().toString(), "run", "--config", config.toString()), Map.of(), layout.logDir()));
        describe(p, name, "admin :" + admin + (outbound > 0 ? ", outbound :" + outbound : "") + ", inbound :" + inbound + " -> :" + app);
        return p;
    }

    private void register(String id, String service, int port) {
        String body = "{\"ID\":\"" + id + "\",\"Name\":\"" + service + "\",\"Address\":\"127.0.0.1\",\"Port\":" + port + "}";
        try {
            Http.Response r = http.putJson(url(registryPort, "/v1/agent/service/register"), body);
            if (!r.ok()) {
                throw new IllegalStateException("registering " + id + ": HTTP " + r.status() + " " + r.body());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("registering " + id, e);
        }
    }

    private void describe(ManagedProcess p, String role, String where) {
        description.add(String.format("%-16s %-50s pid %-7d log %s", role, where, p.pid(), p.logFile().getFileName()));
    }

    private static URI url(int port, String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    @Override
    public URI serviceA() {
        return serviceA;
    }

    @Override
    public Http asServiceA() {
        return asServiceA;
    }

    @Override
    public URI sidecarAAdmin() {
        return sidecarAAdmin;
    }

    @Override
    public List<URI> serviceBControl() {
        return List.copyOf(serviceBControl);
    }

    @Override
    public void killServiceB(int index) {
        serviceB.get(index).kill();
    }

    /** sidecar-a's outbound port (for the curl examples). */
    public int sidecarAOutboundPort() {
        return sidecarAOutbound;
    }

    public int registryPort() {
        return registryPort;
    }

    @Override
    public List<String> describe() {
        return List.copyOf(description);
    }

    @Override
    public void close() {
        group.close();
    }
}

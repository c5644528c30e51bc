package io.outrigger.it.scenario;

import io.outrigger.it.harness.Http;
import io.outrigger.it.harness.ProjectLayout;
import io.outrigger.it.harness.Topology;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.ComposeContainer;
import org.testcontainers.containers.ContainerState;
import org.testcontainers.containers.wait.strategy.Wait;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The mesh as {@code config/compose/docker-compose.yml} defines it, started by Testcontainers
 * (images built from the project's Dockerfiles and jars). Ports are reached through
 * Testcontainers' mapped ports: sidecar-a's admin, outbound and inbound listeners live in
 * service-a's network namespace, each service-b instance is controlled through its sidecar's
 * inbound listener. Not thread-safe.
 */
final class ComposeTopology implements Topology {
    private static final String[] SERVICE_B = {"service-b1", "service-b2"};

    private final ComposeContainer compose;

    private ComposeTopology(ComposeContainer compose) {
        this.compose = compose;
    }

    static ComposeTopology start(ProjectLayout layout) {
        layout.requireJars();
        ComposeContainer compose = new ComposeContainer(layout.root().resolve("config/compose/docker-compose.yml").toFile())
                .withBuild(true)
                .withExposedService("service-a", 15000, Wait.forHttp("/ready").forStatusCode(200))
                .withExposedService("service-a", 15001)
                .withExposedService("service-a", 15006)
                .withStartupTimeout(Duration.ofMinutes(3));
        for (String b : SERVICE_B) {
            compose = compose.withExposedService(b, 15006, Wait.forHttp("/health").forStatusCode(200));
        }
        compose.start();
        return new ComposeTopology(compose);
    }

    private URI url(String service, int port) {
        return URI.create("http://" + compose.getServiceHost(service, port) + ":" + compose.getServicePort(service, port));
    }

    @Override
    public URI serviceA() {
        return url("service-a", 15006);
    }

    @Override
    public Http asServiceA() {
        return Http.viaProxy(compose.getServiceHost("service-a", 15001), compose.getServicePort("service-a", 15001));
    }

    @Override
    public URI sidecarAAdmin() {
        return url("service-a", 15000);
    }

    @Override
    public List<URI> serviceBControl() {
        List<URI> out = new ArrayList<>();
        for (String b : SERVICE_B) {
            out.add(url(b, 15006));
        }
        return out;
    }

    @Override
    public void killServiceB(int index) {
        ContainerState c = container(SERVICE_B[index]);
        DockerClientFactory.instance().client().killContainerCmd(c.getContainerId()).exec();
    }

    private ContainerState container(String service) {
        return compose.getContainerByServiceName(service)
                .or(() -> compose.getContainerByServiceName(service + "-1"))
                .orElseThrow(() -> new IllegalStateException("no container for compose service " + service));
    }

    @Override
    public List<String> describe() {
        return List.of("compose: service-a (sidecar-a) at " + serviceA() + ", admin " + sidecarAAdmin(),
                "compose: service-b1, service-b2 (each with its sidecar) at " + serviceBControl());
    }

    @Override
    public void close() {
        compose.stop();
    }
}

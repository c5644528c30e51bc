package io.outrigger.it.harness;

import java.net.URI;
import java.util.List;

/**
 * The two-service mesh the demo and the scenario tests drive, however it runs (processes on
 * loopback, or containers):
 * <pre>
 *   caller -> sidecar-a inbound -> service-a app --HTTP_PROXY--> sidecar-a outbound
 *          -> sidecar-b{1,2} inbound -> service-b{1,2} app
 * </pre>
 * The registry lists each service-b instance at its sidecar's inbound listener, so a call from
 * service-a to service-b crosses both sidecars.
 */
public interface Topology extends AutoCloseable {

    /** The way into service-a from outside: sidecar-a's inbound listener (e.g. {@code /call/service-b/hello}). */
    URI serviceA();

    /** A client that calls other services the way service-a's app does: through sidecar-a's outbound listener. */
    Http asServiceA();

    /** sidecar-a's admin listener ({@code /ready}, {@code /clusters}, {@code /metrics}, {@code /config}). */
    URI sidecarAAdmin();

    /** Where each service-b instance takes its control calls ({@code POST /admin/fail?rate=R}), in instance order. */
    List<URI> serviceBControl();

    /** Kills service-b instance {@code index} (SIGKILL: it gets no chance to deregister), leaving its sidecar up. */
    void killServiceB(int index);

    /** One line per component: name, address, process or container id. */
    List<String> describe();

    /** Stops every component; idempotent. */
    @Override
    void close();
}

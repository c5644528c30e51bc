package io.outrigger.it.harness;

/**
 * Writes the sidecar YAML the loopback topology starts each sidecar with: short timeouts, a
 * one-second breaker and one-second outlier ejections so the demo's failure and recovery fit in a few seconds.
 */
public final class SidecarYaml {
    /** Consecutive failures that open a breaker. */
    public static final int FAILURE_THRESHOLD = 3;
    /** How long a breaker stays open before it lets a probe through. */
    public static final long OPEN_MS = 1000;

    private SidecarYaml() {
    }

    /**
     * One sidecar's config.
     *
     * @param outboundPort 0 to leave the outbound listener closed (service-b's sidecars make no calls)
     */
    public static String sidecar(String name, String service, int registryPort, int adminPort, int outboundPort,
                                 int inboundPort, int appPort) {
        StringBuilder y = new StringBuilder();
        y.append("name: ").append(name).append('\n')
                .append("service: ").append(service).append('\n')
                .append("registry: http://127.0.0.1:").append(registryPort).append('\n')
                .append("bind_address: 127.0.0.1\n")
                .append("drain_ms: 200\n")
                .append("io_threads: 1\n")
                .append("listeners:\n")
                .append("  admin:    { port: ").append(adminPort).append(" }\n");
        if (outboundPort > 0) {
            y.append("  outbound: { port: ").append(outboundPort).append(" }\n");
        }
        y.append("  inbound:  { port: ").append(inboundPort).append(", app: 127.0.0.1:").append(appPort).append(" }\n")
                .append("resilience:\n")
                .append("  breaker:  { failure_threshold: ").append(FAILURE_THRESHOLD).append(", open_ms: ").append(OPEN_MS)
                .append(", half_open_probes: 1 }\n")
                .append("  retry:    { max_retries: 2, base_ms: 10, max_ms: 50, jitter: full, budget_percent: 50 }\n")
                .append("  timeouts: { connect_ms: 250, request_ms: 2000 }\n")
                // Outlier ejection as short as the breaker's open time: when every instance of service-b fails
                // (scenario 2), each instance's breaker and outlier detection see the same failures, and an ejection
                // of the default 30 s would outlast the recovery the demo shows.
                .append("health: { ejection_ms: ").append(OPEN_MS).append(" }\n");
        return y.toString();
    }
}

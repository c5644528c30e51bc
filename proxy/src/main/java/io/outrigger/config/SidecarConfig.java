package io.outrigger.config;

import io.outrigger.discovery.Endpoint;
import io.outrigger.resilience.CircuitBreakerConfig;

import java.util.List;

/**
 * The effective sidecar configuration: immutable once loaded. Every key has a default
 * ({@link #defaults()}); see {@code config/sidecar.yaml} for the documented example.
 *
 * @param name        this sidecar's name, used in logs, metrics and {@code proxied_by} (default {@code sidecar})
 * @param service     the service this sidecar sits beside (default {@code local})
 * @param registry    {@code file:PATH}, {@code http://host:port} (Consul-style), or {@code embedded} (default)
 * @param bindAddress the address every listener binds (default {@code 127.0.0.1})
 * @param drainMillis how long draining may take after SIGTERM (default 10000)
 * @param ioThreads   event loop threads; 0 = Netty's default of twice the cores (default 0)
 * @param maxConnections the most client connections open at once on each listener that carries traffic (the
 *                    admin listener has no limit); at its limit a listener stops accepting until one closes.
 *                    0 (the default) derives it from the process's open-files limit
 *                    ({@link io.outrigger.lifecycle.ConnectionTracker#fromOpenFilesLimit})
 */
public record SidecarConfig(String name, String service, String registry, String bindAddress,
                            Listeners listeners, Resilience resilience, Http http, Health health,
                            long drainMillis, int ioThreads, int maxConnections) {

    /** Ports of the listeners; a null listener is not opened. Port 0 picks a free port. */
    public record Listeners(Port admin, Port outbound, Inbound inbound, JsonLine jsonline, List<Tcp> tcp) {}

    public record Port(int port) {}

    /**
     * The line-JSON listener. @param idleTimeoutMillis time a connection may go without input and without a
     * call in flight before it is closed; 0 = never (default 60000)
     */
    public record JsonLine(int port, long idleTimeoutMillis) {}

    /** @param app the local application the inbound listener forwards to */
    public record Inbound(int port, Endpoint app) {}

    /** A raw TCP relay to a service. @param idleTimeoutMillis idle time before both sides close (default 300000) */
    public record Tcp(int port, String service, long idleTimeoutMillis) {}

    public record Resilience(CircuitBreakerConfig breaker, Retry retry, Timeouts timeouts) {}

    /**
     * @param maxRetries    retries after the first attempt (default 2)
     * @param baseMillis    first backoff delay (default 25)
     * @param maxMillis     backoff cap (default 250)
     * @param fullJitter    full jitter on ({@code jitter: full}, default) or off ({@code none})
     * @param budgetPercent retries allowed as a share of live requests (default 20)
     */
    public record Retry(int maxRetries, long baseMillis, long maxMillis, boolean fullJitter, int budgetPercent) {}

    /**
     * @param connectMillis upstream connect timeout (default 1000)
     * @param requestMillis whole exchange, retries included (default 15000)
     * @param readMillis    how long one attempt waits for the response head once the request is sent; 0 = no limit of
     *                      its own (the default: {@code requestMillis} alone bounds it). Past it the attempt fails as a
     *                      read timeout, which an idempotent request retries on another instance.
     */
    public record Timeouts(long connectMillis, long requestMillis, long readMillis) {}

    /**
     * HTTP edge limits.
     *
     * @param maxHeaderBytes     largest request header block, else 431 (default 16384)
     * @param headerTimeoutMillis time allowed to receive a request's headers (default 10000)
     * @param retryBufferBytes   largest request body kept for replay (default 65536)
     * @param maxBodyBytes       largest request body accepted, 0 = unlimited (default 0), else 413
     * @param idleTimeoutMillis  idle keep-alive connection lifetime, client and upstream side (default 60000)
     * @param poolMaxIdle        idle upstream connections kept per event loop and instance (default 256). An
     *                           event loop holds one upstream connection per request in flight, so the cap must
     *                           exceed the concurrent requests one loop carries to one instance: below that,
     *                           every burst closes connections that the next burst opens again (connection churn,
     *                           a connect and a TIME_WAIT socket per request). 256 covers far more client
     *                           connections than a sidecar's local app opens, and idle ones still close after
     *                           {@code idleTimeoutMillis}, so the cap costs nothing when traffic is low
     * @param accessLog          one JSON line per request on stderr, written off the event loop (default true)
     */
    public record Http(int maxHeaderBytes, long headerTimeoutMillis, int retryBufferBytes, long maxBodyBytes,
                       long idleTimeoutMillis, int poolMaxIdle, boolean accessLog) {
        /** The limits with the access log on. */
        public Http(int maxHeaderBytes, long headerTimeoutMillis, int retryBufferBytes, long maxBodyBytes,
                    long idleTimeoutMillis, int poolMaxIdle) {
            this(maxHeaderBytes, headerTimeoutMillis, retryBufferBytes, maxBodyBytes, idleTimeoutMillis, poolMaxIdle, true);
        }
    }

    /**
     * Active health checks by the sidecar ({@code intervalMillis} 0 disables them) and passive outlier detection.
     *
     * @param intervalMillis     time between checks of one instance (default 0: off unless configured)
     * @param path               HTTP path checked (default {@code /health})
     * @param unhealthyAfter     consecutive failed checks that mark an instance unhealthy (default 3)
     * @param healthyAfter       consecutive passed checks that mark it healthy again (default 1)
     * @param timeoutMillis      one check's deadline, connect included, at most {@code intervalMillis} (default 1000)
     * @param ejectAfterFailures consecutive failed exchanges in real traffic that eject an instance
     *                           (default: {@code resilience.breaker.failure_threshold}, 5)
     * @param ejectionMillis     base ejection time, times the number of ejections so far (default 30000)
     * @param maxEjectionMillis  longest ejection (default 300000)
     * @param maxEjectedPercent  largest share of a service's instances ejected at once; one may always be (default 50)
     */
    public record Health(long intervalMillis, String path, int unhealthyAfter, int healthyAfter, long timeoutMillis,
                         int ejectAfterFailures, long ejectionMillis, long maxEjectionMillis, int maxEjectedPercent) {
        /** Active-check settings with the outlier detection defaults. */
        public Health(long intervalMillis, String path, int unhealthyAfter, int healthyAfter) {
            this(intervalMillis, path, unhealthyAfter, healthyAfter, 1000, CircuitBreakerConfig.DEFAULT.failureThreshold(),
                    30_000, 300_000, 50);
        }
    }

    /** Every default, with no listener opened. */
    public static SidecarConfig defaults() {
        return new SidecarConfig("sidecar", "local", "embedded", "127.0.0.1",
                new Listeners(null, null, null, null, List.of()),
                new Resilience(CircuitBreakerConfig.DEFAULT, new Retry(2, 25, 250, true, 20), new Timeouts(1000, 15_000, 0)),
                new Http(16_384, 10_000, 65_536, 0, 60_000, 256, true),
                new Health(0, "/health", 3, 1),
                10_000, 0, 0);
    }
}

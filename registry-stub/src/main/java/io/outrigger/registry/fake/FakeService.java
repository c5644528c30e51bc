package io.outrigger.registry.fake;

import io.outrigger.registry.consul.Registration;
import io.outrigger.registry.http.HttpServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A fake service instance: the {@link FakeServiceHandler} behaviour on one port, optionally registered with
 * a registry (with an HTTP check on {@code /health}) and calling others through its sidecar. Thread-safe.
 */
public final class FakeService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(FakeService.class);
    /** How long {@link #close()} lets requests already received be answered before it closes what is left. */
    public static final Duration DRAIN_DEADLINE = Duration.ofSeconds(5);

    /**
     * How to run a fake service.
     *
     * @param name            the service name
     * @param instanceId      this instance's id (default {@code NAME-PORT})
     * @param host            the address to bind (default 127.0.0.1)
     * @param port            the port, 0 for a free one
     * @param advertise       the address registered (default: {@code host})
     * @param registry        the registry to register with, or null
     * @param sidecar         the sidecar's outbound listener for {@code /call}, or null
     * @param checkInterval   the registered check's interval, a Consul duration (default 1s)
     * @param deregisterAfter DeregisterCriticalServiceAfter of the check (default 1m)
     * @param callTimeoutMillis deadline of a {@code /call} (default 10000)
     * @param syncIntervalMillis how often a registered instance looks whether the registry still lists it, to
     *                        register again with one that restarted (default 5000)
     */
    public record Settings(String name, String instanceId, String host, int port, String advertise, URI registry,
                           URI sidecar, String checkInterval, String deregisterAfter, long callTimeoutMillis,
                           long syncIntervalMillis) {
        public static final long DEFAULT_SYNC_INTERVAL_MILLIS = 5000;

        /** Loopback, no registry, no sidecar. */
        public static Settings local(String name) {
            return new Settings(name, null, "127.0.0.1", 0, null, null, null, "1s", "1m", 10_000, DEFAULT_SYNC_INTERVAL_MILLIS);
        }

        public Settings withSyncInterval(long millis) {
            return new Settings(name, instanceId, host, port, advertise, registry, sidecar, checkInterval, deregisterAfter, callTimeoutMillis, millis);
        }

        public Settings withRegistry(URI registry, String checkInterval) {
            return new Settings(name, instanceId, host, port, advertise, registry, sidecar, checkInterval, deregisterAfter, callTimeoutMillis, syncIntervalMillis);
        }

        public Settings withSidecar(URI sidecar) {
            return new Settings(name, instanceId, host, port, advertise, registry, sidecar, checkInterval, deregisterAfter, callTimeoutMillis, syncIntervalMillis);
        }

        public Settings withInstanceId(String id) {
            return new Settings(name, id, host, port, advertise, registry, sidecar, checkInterval, deregisterAfter, callTimeoutMillis, syncIntervalMillis);
        }
    }

    /**
     * Refuses settings the registry would refuse, before anything starts: a blank name and, for a service that
     * registers ({@code --register}), an instance id (given, or
     * the default {@code NAME-PORT}) with a '/', an advertised address that makes no check URL. The message starts
     * with the command-line option to blame.
     */
    public static void validate(Settings s) {
        if (s.name().isBlank()) {
            throw new IllegalArgumentException("--name: \"" + s.name() + "\" (expected: a non-blank name)");
        }
        if (s.registry() == null) {
            return; // nothing goes to a registry: the id and the address only name the service in its echo
        }
        try {
            if (s.instanceId() != null) {
                Registration.requireId("--instance-id", s.instanceId());
            } else if (s.name().contains("/")) {
                throw new IllegalArgumentException("--name: \"" + s.name()
                        + "\" (expected: no '/', as it starts the default instance id NAME-PORT; or give --instance-id)");
            }
            String address = s.advertise() != null ? s.advertise() : s.host();
            String option = s.advertise() != null ? "--advertise" : "--host";
            try {
                Registration.checkUrl(option, SelfRegistration.checkUrl(address, s.port() == 0 ? 1 : s.port()));
            } catch (Registration.Invalid e) {
                throw new IllegalArgumentException(option + ": \"" + address
                        + "\" (expected: a host name or IP address, as the registry checks http://ADDRESS:PORT/health)");
            }
        } catch (Registration.Invalid e) {
            throw new IllegalArgumentException(e.getMessage());
        }
    }

    private final HttpServer http;
    private final Behaviour behaviour;
    private final String instanceId;
    private final SelfRegistration registration;

    private FakeService(HttpServer http, Behaviour behaviour, String instanceId, SelfRegistration registration) {
        this.http = http;
        this.behaviour = behaviour;
        this.instanceId = instanceId;
        this.registration = registration;
    }

    /** Binds the port, then starts registering when a registry is set. */
    public static FakeService start(Settings s, Behaviour behaviour) throws InterruptedException {
        AtomicReference<String> id = new AtomicReference<>(s.instanceId());
        DownstreamCaller downstream = s.sidecar() == null ? null : new DownstreamCaller(s.sidecar(), s.callTimeoutMillis());
        HttpServer http = HttpServer.bind("fake-" + s.name(), s.host(), s.port(), 1,
                new FakeServiceHandler(s.name(), id::get, behaviour, downstream));
        id.compareAndSet(null, s.name() + "-" + http.port());
        SelfRegistration reg = null;
        if (s.registry() != null) {
            String address = s.advertise() != null ? s.advertise() : s.host();
            reg = new SelfRegistration(s.registry(), id.get(), s.name(), address, http.port(), s.checkInterval(),
                    s.deregisterAfter(), s.syncIntervalMillis(), http.group().next());
            reg.start();
        }
        log.info("fake service {} (instance {}) on {}:{}", s.name(), id.get(), s.host(), http.port());
        return new FakeService(http, behaviour, id.get(), reg);
    }

    public int port() {
        return http.port();
    }

    public String instanceId() {
        return instanceId;
    }

    public Behaviour behaviour() {
        return behaviour;
    }

    /** Whether the registry accepted the registration (false without a registry). */
    public boolean registered() {
        return registration != null && registration.registered();
    }

    /** Its registration with the registry, or null without one. */
    SelfRegistration registration() {
        return registration;
    }

    /** Requests received and not answered yet. */
    int requestsInFlight() {
        return http.requestsInFlight();
    }

    /** Deregisters (when registered), then drains within {@link #DRAIN_DEADLINE}: see {@link #close(Duration)}. */
    @Override
    public void close() {
        close(DRAIN_DEADLINE);
    }

    /**
     * Deregisters (when registered), then stops serving gracefully: new connections are refused, idle ones closed,
     * and each request already received is answered (after its latency) with {@code Connection: close}; what is
     * still open after {@code drainDeadline} is closed. Returns the number of requests received that the deadline
     * cut unanswered (logged too).
     */
    public int close(Duration drainDeadline) {
        if (registration != null) {
            registration.deregister();
        }
        log.info("draining: open connections: {}, requests in flight: {} (deadline {} ms)", http.openConnections(),
                http.requestsInFlight(), drainDeadline.toMillis());
        long t0 = System.nanoTime();
        int cut = http.drainAndClose(drainDeadline);
        long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        if (cut > 0) {
            log.warn("stopped after draining for {} ms; requests cut unanswered at the deadline: {}", took, cut);
        } else {
            log.info("stopped after draining for {} ms; requests cut unanswered at the deadline: 0", took);
        }
        return cut;
    }
}

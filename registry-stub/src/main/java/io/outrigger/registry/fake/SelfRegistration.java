package io.outrigger.registry.fake;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.util.concurrent.EventExecutor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Registers a fake service instance with a Consul-style registry, with an HTTP check on its {@code /health},
 * and deregisters it on {@link #deregister()}. Registration is asynchronous and retried (1 s, 2 s, ... up to
 * 10 s apart) until the registry accepts it, so a service may start before its registry. A registration still in
 * flight at {@link #deregister()} is waited for, so one that lands then is removed too.
 *
 * <p>Once registered it looks every sync interval whether the registry still lists its id
 * ({@code GET /v1/health/service/NAME}), and registers again when a registry that restarted has lost it, as a
 * Consul agent's anti-entropy does: the id is gone and the registry was unreachable since the last look, or its
 * {@code X-Consul-Index} went back (a new run), or the id was gone at the first look after registering. An
 * instance the registry removed on its own (an operator's deregistration, critical for longer than
 * DeregisterCriticalServiceAfter) stays removed, as with Consul. While the id is listed nothing is sent again, so
 * its check status does not flap. Thread-safe.
 */
final class SelfRegistration {
    private static final Logger log = LoggerFactory.getLogger(SelfRegistration.class);

    private final URI registry;
    private final String id;
    private final String name;
    private final long syncIntervalMillis;
    private final String deregisterAfter;
    private final String body;
    private final EventExecutor executor;
    private final HttpClient client = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY)
            .version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(2)).build();
    private static final Duration REGISTER_TIMEOUT = Duration.ofSeconds(5);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Guarded by this, with {@link #inFlight}: once set, no registration request starts. */
    private volatile boolean stopped;
    private volatile boolean registered;
    /** The last registration request, done once its outcome is recorded in {@link #registered}; guarded by this. */
    private CompletableFuture<?> inFlight;
    /** The registry's index at the last look that listed the id, 0 before the first since registering; guarded by this. */
    private long listedAtIndex;
    /** A look since the last that listed the id found no registry; guarded by this. */
    private boolean missedLook;
    private final AtomicInteger registrations = new AtomicInteger();
    private final AtomicInteger looks = new AtomicInteger();

    /** @param syncIntervalMillis how often to look whether the registry still lists the instance */
    SelfRegistration(URI registry, String id, String name, String address, int port, String checkInterval,
                     String deregisterAfter, long syncIntervalMillis, EventExecutor executor) {
        this.registry = registry;
        this.id = id;
        this.name = name;
        this.syncIntervalMillis = syncIntervalMillis;
        this.deregisterAfter = deregisterAfter;
        this.executor = executor;
        ObjectNode b = JsonNodeFactory.instance.objectNode().put("ID", id).put("Name", name).put("Address", address).put("Port", port);
        b.putObject("Check").put("HTTP", checkUrl(address, port))
                .put("Interval", checkInterval).put("Timeout", checkInterval).put("DeregisterCriticalServiceAfter", deregisterAfter);
        this.body = b.toString();
    }

    /** The URL of the instance's {@code /health}, as registered for its check. */
    static String checkUrl(String address, int port) {
        String host = address.indexOf(':') >= 0 && !address.startsWith("[") ? "[" + address + "]" : address;
        return "http://" + host + ":" + port + "/health";
    }

    void start() {
        attempt(1, false);
    }

    boolean registered() {
        return registered;
    }

    /** How many registrations the registry accepted. */
    int registrations() {
        return registrations.get();
    }

    /** How many looks at the registry's listing have been made and acted on. */
    int looks() {
        return looks.get();
    }

    private synchronized void attempt(int n, boolean again) {
        if (stopped) {
            return;
        }
        HttpRequest req = HttpRequest.newBuilder(registry.resolve("/v1/agent/service/register"))
                .timeout(REGISTER_TIMEOUT).header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(body)).build();
        inFlight = client.sendAsync(req, HttpResponse.BodyHandlers.ofString()).whenComplete((res, err) -> {
            if (err == null && res.statusCode() == 200) {
                registered = true;
                registrations.incrementAndGet();
                log.info(again ? "registered {} again with {}" : "registered {} with {}", id, registry);
                synchronized (this) {
                    listedAtIndex = 0;
                    missedLook = false;
                }
                later(this::look, syncIntervalMillis);
                return;
            }
            String why = err != null ? why(err) : "status " + res.statusCode() + ": " + res.body().trim();
            if (err == null && res.statusCode() == 400) {
                log.error("registry {} refused the registration of {}: {}", registry, id, why);
                return;
            }
            long delay = Math.min(10, n);
            if (n == 1) {
                log.warn("cannot register {} with {} ({}); retrying", id, registry, why);
            }
            later(() -> attempt(n + 1, again), TimeUnit.SECONDS.toMillis(delay));
        });
    }

    private void later(Runnable task, long delayMillis) {
        if (stopped || executor.isShuttingDown()) {
            return;
        }
        try {
            executor.schedule(task, delayMillis, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // shutting down: nothing more to do
        }
    }

    private void look() {
        if (stopped) {
            return;
        }
        HttpRequest req = HttpRequest.newBuilder(registry.resolve("/v1/health/service/" + encode(name)))
                .timeout(REGISTER_TIMEOUT).GET().build();
        client.sendAsync(req, HttpResponse.BodyHandlers.ofString()).whenComplete(this::looked);
    }

    private synchronized void looked(HttpResponse<String> res, Throwable err) {
        try {
            if (stopped) {
                return;
            }
            Boolean listed = err == null && res.statusCode() == 200 ? listed(res.body()) : null;
            long index = err == null ? index(res) : 0;
            if (listed == null) {
                missedLook = true;
                later(this::look, syncIntervalMillis);
            } else if (listed) {
                listedAtIndex = index;
                missedLook = false;
                later(this::look, syncIntervalMillis);
            } else if (listedAtIndex == 0 || missedLook || index < listedAtIndex) {
                registered = false;
                log.info("{} no longer lists {} (the registry restarted); registering it again", registry, id);
                attempt(1, true);
            } else {
                registered = false;
                log.info("{} deregistered {} (by a request, or critical for longer than {}); not registering it again",
                        registry, id, deregisterAfter);
            }
        } finally {
            looks.incrementAndGet();
        }
    }

    /** The answer's {@code X-Consul-Index}, 0 when it has none or one that is not a number (as if it had none). */
    private static long index(HttpResponse<?> res) {
        try {
            return res.headers().firstValueAsLong("X-Consul-Index").orElse(0);
        } catch (NumberFormatException e) {
            return 0; // thrown out of the look, it would have ended the looks for good
        }
    }

    /** Whether a health answer lists this instance's id; null when it is not such an answer. */
    private Boolean listed(String body) {
        try {
            JsonNode entries = JSON.readTree(body);
            if (!entries.isArray()) {
                return null;
            }
            for (JsonNode e : entries) {
                if (id.equals(e.path("Service").path("ID").asText(null))) {
                    return true;
                }
            }
            return false;
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * A failure in words for the log. java.net.http's {@code ConnectException} for a refused
     * connection has no message ("null" was all the log said), so its class name stands in.
     */
    static String why(Throwable t) {
        while ((t instanceof java.util.concurrent.CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        String message = t.getMessage();
        return message == null || message.isBlank() ? t.getClass().getSimpleName() : t.getClass().getSimpleName() + ": " + message;
    }

    private static String encode(String segment) {
        return URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /**
     * Stops retrying and removes the instance from the registry (called at shutdown): waits up to 5 s for a
     * registration in flight, then up to 2 s for the deregistration, sent when the registration was accepted or its
     * outcome is still unknown.
     */
    void deregister() {
        CompletableFuture<?> pending;
        synchronized (this) {
            stopped = true;
            pending = inFlight;
        }
        boolean unknown = false;
        if (pending != null) {
            try {
                pending.get(REGISTER_TIMEOUT.toMillis() + 1000, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                unknown = true;
            } catch (ExecutionException e) {
                // the registration failed: nothing to remove
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        if (!registered && !unknown) {
            return;
        }
        HttpRequest req = HttpRequest.newBuilder(registry.resolve("/v1/agent/service/deregister/" + encode(id)))
                .timeout(Duration.ofSeconds(2)).PUT(HttpRequest.BodyPublishers.noBody()).build();
        try {
            HttpResponse<Void> res = client.send(req, HttpResponse.BodyHandlers.discarding());
            log.info("deregistered {} from {} (status {})", id, registry, res.statusCode());
        } catch (IOException e) {
            log.warn("cannot deregister {} from {}: {}", id, registry, why(e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

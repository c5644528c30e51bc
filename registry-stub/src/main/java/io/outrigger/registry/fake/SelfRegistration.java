package io.outrigger.registry.fake;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.util.concurrent.EventExecutor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Registers a fake service instance with a Consul-style registry, with an HTTP check on its {@code /health},
 * and deregisters it on {@link #deregister()}. Registration is asynchronous and retried (1 s, 2 s, ... up to
 * 10 s apart) until the registry accepts it, so a service may start before its registry. A registration still in
 * flight at {@link #deregister()} is waited for, so one that lands then is removed too. Thread-safe.
 */
final class SelfRegistration {
    private static final Logger log = LoggerFactory.getLogger(SelfRegistration.class);

    private final URI registry;
    private final String id;
    private final String body;
    private final EventExecutor executor;
    private final HttpClient client = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY)
            .version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(2)).build();
    private static final Duration REGISTER_TIMEOUT = Duration.ofSeconds(5);

    /** Guarded by this, with {@link #inFlight}: once set, no registration request starts. */
    private volatile boolean stopped;
    private volatile boolean registered;
    /** The last registration request, done once its outcome is recorded in {@link #registered}; guarded by this. */
    private CompletableFuture<?> inFlight;

    SelfRegistration(URI registry, String id, String name, String address, int port, String checkInterval,
                     String deregisterAfter, EventExecutor executor) {
        this.registry = registry;
        this.id = id;
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
        attempt(1);
    }

    boolean registered() {
        return registered;
    }

    private synchronized void attempt(int n) {
        if (stopped) {
            return;
        }
        HttpRequest req = HttpRequest.newBuilder(registry.resolve("/v1/agent/service/register"))
                .timeout(REGISTER_TIMEOUT).header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(body)).build();
        inFlight = client.sendAsync(req, HttpResponse.BodyHandlers.ofString()).whenComplete((res, err) -> {
            if (err == null && res.statusCode() == 200) {
                registered = true;
                log.info("registered {} with {}", id, registry);
                return;
            }
            String why = err != null ? String.valueOf(err.getMessage()) : "status " + res.statusCode() + ": " + res.body().trim();
            if (err == null && res.statusCode() == 400) {
                log.error("registry {} refused the registration of {}: {}", registry, id, why);
                return;
            }
            long delay = Math.min(10, n);
            if (n == 1) {
                log.warn("cannot register {} with {} ({}); retrying", id, registry, why);
            }
            if (!stopped && !executor.isShuttingDown()) {
                executor.schedule(() -> attempt(n + 1), delay, TimeUnit.SECONDS);
            }
        });
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
        HttpRequest req = HttpRequest.newBuilder(registry.resolve("/v1/agent/service/deregister/"
                        + URLEncoder.encode(id, StandardCharsets.UTF_8).replace("+", "%20")))
                .timeout(Duration.ofSeconds(2)).PUT(HttpRequest.BodyPublishers.noBody()).build();
        try {
            HttpResponse<Void> res = client.send(req, HttpResponse.BodyHandlers.discarding());
            log.info("deregistered {} from {} (status {})", id, registry, res.statusCode());
        } catch (java.io.IOException e) {
            log.warn("cannot deregister {} from {}: {}", id, registry, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package io.outrigger.registry.consul;

import io.netty.util.concurrent.EventExecutor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Runs each registered instance's HTTP check on its interval: an asynchronous {@code GET} (java.net.http,
 * no proxy, redirects followed as Consul follows them) with the check's timeout; a final 2xx is passing, any other
 * status, error or timeout critical. The next check is scheduled on an event loop when the previous one finished,
 * and checks stop by themselves once the registration is replaced or removed. No thread waits for an answer.
 * Thread-safe.
 */
public final class CheckRunner {
    private static final Logger log = LoggerFactory.getLogger(CheckRunner.class);

    private final Catalog catalog;
    private final EventExecutor executor;
    private final HttpClient client;
    private volatile boolean closed;

    public CheckRunner(Catalog catalog, EventExecutor executor) {
        this.catalog = catalog;
        this.executor = executor;
        // Redirects are followed, as by Consul's check (Go's client; DisableRedirects is false unless set): the
        // status that counts is the final one.
        this.client = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY).version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NORMAL).build();
        catalog.onRegistered(this::start);
    }

    private void start(ServiceInstance instance) {
        if (instance.check() != null) {
            executor.execute(() -> run(instance.id(), instance.serial()));
        }
    }

    private void run(String id, long serial) {
        ServiceInstance inst = catalog.current(id, serial);
        if (closed || inst == null) {
            return;
        }
        HttpCheck check = inst.check();
        HttpRequest req = HttpRequest.newBuilder(check.url()).timeout(Duration.ofMillis(check.timeoutMillis()))
                .header("User-Agent", "outrigger-registry-stub-check").GET().build();
        client.sendAsync(req, HttpResponse.BodyHandlers.discarding())
                .orTimeout(check.timeoutMillis(), TimeUnit.MILLISECONDS)
                .whenComplete((res, err) -> {
                    boolean passing = err == null && res.statusCode() >= 200 && res.statusCode() < 300;
                    ServiceInstance after = catalog.checkResult(id, serial, passing);
                    if (after == null) {
                        return; // replaced, deregistered, or removed for being critical too long
                    }
                    if (after.passing() != inst.passing()) {
                        log.info("instance {} of {} is {} ({})", id, inst.service(), after.status(),
                                err != null ? describe(err) : "status " + res.statusCode());
                    }
                    if (!closed && !executor.isShuttingDown()) {
                        executor.schedule(() -> run(id, serial), check.intervalMillis(), TimeUnit.MILLISECONDS);
                    }
                });
    }

    private static String describe(Throwable t) {
        Throwable c = t.getCause() != null && t instanceof java.util.concurrent.CompletionException ? t.getCause() : t;
        return c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage();
    }

    /** Stops scheduling checks; checks in flight finish and are ignored. */
    public void close() {
        closed = true;
    }
}

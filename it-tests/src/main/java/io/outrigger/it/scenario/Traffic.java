package io.outrigger.it.scenario;

import io.outrigger.it.harness.Http;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Every request the driver sent, per target service: counts, success rate and latency
 * percentiles for the summary table. Thread-safe.
 */
public final class Traffic {
    private final Map<String, List<Sample>> samples = new TreeMap<>();

    /** One exchange: a response, or the I/O error that replaced it. */
    public record Outcome(Optional<Http.Response> response, String error, Duration latency) {
        public boolean ok() {
            return response.map(Http.Response::ok).orElse(false);
        }

        /** The status, or 0 when no response came. */
        public int status() {
            return response.map(Http.Response::status).orElse(0);
        }

        public Optional<String> header(String name) {
            return response.flatMap(r -> r.header(name));
        }

        public String body() {
            return response.map(Http.Response::body).orElse("");
        }

        /** {@code 200}, {@code 503 (x-outrigger-breaker: open)} or the error. */
        public String describe() {
            if (response.isEmpty()) {
                return "no response (" + error + ")";
            }
            return status() + header("x-outrigger-breaker").map(b -> " (x-outrigger-breaker: " + b + ")").orElse("");
        }
    }

    /** An exchange to record. */
    @FunctionalInterface
    public interface Exchange {
        Http.Response send() throws IOException;
    }

    private record Sample(boolean ok, long nanos) {}

    /** Latency and success figures of one service. */
    public record Stats(String service, int requests, int ok, Duration p50, Duration p99) {
        public double successRate() {
            return requests == 0 ? 0 : (double) ok / requests;
        }
    }

    /** Sends one exchange and records it under {@code service}; never throws for I/O errors. */
    public Outcome call(String service, Exchange exchange) {
        long start = System.nanoTime();
        Outcome outcome;
        try {
            Http.Response r = exchange.send();
            outcome = new Outcome(Optional.of(r), "", r.latency());
        } catch (IOException e) {
            outcome = new Outcome(Optional.empty(), String.valueOf(e), Duration.ofNanos(System.nanoTime() - start));
        }
        synchronized (samples) {
            samples.computeIfAbsent(service, s -> new ArrayList<>()).add(new Sample(outcome.ok(), outcome.latency().toNanos()));
        }
        return outcome;
    }

    /** The figures of every service called so far, by name. */
    public List<Stats> stats() {
        List<Stats> all = new ArrayList<>();
        synchronized (samples) {
            samples.forEach((service, list) -> {
                List<Long> nanos = new ArrayList<>(list.size());
                int ok = 0;
                for (Sample s : list) {
                    nanos.add(s.nanos());
                    ok += s.ok() ? 1 : 0;
                }
                Collections.sort(nanos);
                all.add(new Stats(service, list.size(), ok, percentile(nanos, 50), percentile(nanos, 99)));
            });
        }
        return all;
    }

    /** Nearest-rank percentile of sorted values. */
    static Duration percentile(List<Long> sorted, int p) {
        if (sorted.isEmpty()) {
            return Duration.ZERO;
        }
        int rank = (int) Math.ceil(p / 100.0 * sorted.size());
        return Duration.ofNanos(sorted.get(Math.max(0, rank - 1)));
    }
}

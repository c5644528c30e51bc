package io.outrigger.it.harness;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A small blocking HTTP/1.1 client for the harness and the demo (the caller is a test or
 * driver thread, never an event loop).
 *
 * <p>{@link #direct()} talks to an address; {@link #viaProxy(int)} sends proxy-form requests
 * ({@code GET http://service-b/path}) to a sidecar's outbound listener on 127.0.0.1, exactly as
 * an application with {@code HTTP_PROXY} set does. Thread-safe.
 */
public final class Http {
    /** Per-request timeout (default 5 s): longer than any demo config's {@code request_ms}. */
    public static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(5);

    private final HttpClient client;

    private Http(HttpClient client) {
        this.client = client;
    }

    /** Requests go straight to the URI's host and port. */
    public static Http direct() {
        return new Http(HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(1)).build());
    }

    /** Requests go through the HTTP proxy (a sidecar's outbound listener) on 127.0.0.1:{@code port}. */
    public static Http viaProxy(int port) {
        return viaProxy("127.0.0.1", port);
    }

    /** Requests go through the HTTP proxy at {@code host:port}. */
    public static Http viaProxy(String host, int port) {
        return new Http(HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .proxy(ProxySelector.of(new InetSocketAddress(host, port)))
                .connectTimeout(Duration.ofSeconds(1)).build());
    }

    /** One exchange's outcome. @param latency from send to the whole body received */
    public record Response(int status, Map<String, List<String>> headers, String body, Duration latency) {
        /** The first value of a header, case-insensitively. */
        public Optional<String> header(String name) {
            return headers.entrySet().stream()
                    .filter(e -> e.getKey().equalsIgnoreCase(name) && !e.getValue().isEmpty())
                    .map(e -> e.getValue().get(0))
                    .findFirst();
        }

        public boolean ok() {
            return status >= 200 && status < 300;
        }
    }

    /** GET with extra headers given as name, value pairs. */
    public Response get(URI uri, String... headers) throws IOException {
        return send(HttpRequest.newBuilder(uri).GET(), headers);
    }

    /** POST with an empty body. */
    public Response post(URI uri, String... headers) throws IOException {
        return send(HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.noBody()), headers);
    }

    /** PUT with a JSON body. */
    public Response putJson(URI uri, String json) throws IOException {
        return send(HttpRequest.newBuilder(uri).header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(json)));
    }

    /** GET that answers whether the status was 2xx; connection errors propagate as "not yet" for {@link Poller}. */
    public boolean isOk(URI uri) throws IOException {
        return get(uri).ok();
    }

    private Response send(HttpRequest.Builder request, String... headers) throws IOException {
        if (headers.length % 2 != 0) {
            throw new IllegalArgumentException("headers: " + headers.length + " strings (expected: name, value pairs)");
        }
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        long start = System.nanoTime();
        try {
            HttpResponse<String> r = client.send(request.timeout(REQUEST_TIMEOUT).build(), HttpResponse.BodyHandlers.ofString());
            return new Response(r.statusCode(), r.headers().map(), r.body(), Duration.ofNanos(System.nanoTime() - start));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }
}

package io.outrigger.discovery;

import com.sun.net.httpserver.HttpExchange;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

/** Answers for a fake Consul agent built on the JDK's HTTP server. */
final class ConsulAnswers {
    private ConsulAnswers() {
    }

    /** A 200 with a JSON body at the given {@code X-Consul-Index}. */
    static void answer(HttpExchange ex, long index, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("X-Consul-Index", Long.toString(index));
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(200, bytes.length);
        ex.getResponseBody().write(bytes);
        ex.close();
    }
}

package io.outrigger.registry.fake;

import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletionException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class SelfRegistrationTest {

    /** The registry's port refuses: java.net.http's ConnectException has no message, and the log said "null". */
    @Test
    void aRefusedConnectionIsNamedInTheLogNotNull() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            closed = s.getLocalPort();
        }
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + closed + "/v1/agent/service/register"))
                .timeout(Duration.ofSeconds(2)).PUT(HttpRequest.BodyPublishers.noBody()).build();
        Exception sync = assertThrows(java.io.IOException.class, () -> client.send(req, HttpResponse.BodyHandlers.discarding()));
        assertEquals("ConnectException", SelfRegistration.why(sync));
        CompletionException async = assertThrows(CompletionException.class,
                () -> client.sendAsync(req, HttpResponse.BodyHandlers.discarding()).join());
        assertEquals("ConnectException", SelfRegistration.why(async));
        assertEquals("IllegalStateException: registry gone", SelfRegistration.why(new IllegalStateException("registry gone")));
    }
}

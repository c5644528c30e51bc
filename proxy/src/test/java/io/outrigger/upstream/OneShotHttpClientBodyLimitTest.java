package io.outrigger.upstream;

import com.sun.net.httpserver.HttpServer;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.Future;
import io.outrigger.listener.Transports;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * An answer over the body limit (a registry that answers megabytes) fails the call with one line that says so:
 * Netty's own exception printed the whole response head, and the registry's outage WARN became seven lines
 * with no word of the limit. A real server on loopback, with and without a Content-Length.
 */
class OneShotHttpClientBodyLimitTest {
    private static final int LIMIT = 1024;

    private EventLoopGroup group;
    private HttpServer server;

    @BeforeEach
    void start() throws Exception {
        group = Transports.best().newGroup(1, "one-shot-limit-test");
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        byte[] body = new byte[LIMIT * 4];
        Arrays.fill(body, (byte) 'x');
        server.createContext("/sized", exchange -> {
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.createContext("/chunked", exchange -> {
            exchange.sendResponseHeaders(200, 0); // 0: chunked
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
    }

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.stop(0);
        }
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"/sized", "/chunked"})
    void anAnswerOverTheLimitFailsWithOneLineThatNamesTheLimit(String path) throws Exception {
        Future<FullHttpResponse> f = OneShotHttpClient.send(group.next(), Transports.best().clientChannel(), "127.0.0.1",
                server.getAddress().getPort(), new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path),
                2_000, 10_000, LIMIT).await();

        assertFalse(f.isSuccess(), "an answer over the limit was accepted");
        String expected = "an answer body over " + LIMIT + " bytes" + (path.equals("/sized") ? " (Content-Length: " + LIMIT * 4 + ")" : "");
        assertEquals(expected, f.cause().getMessage());
    }
}

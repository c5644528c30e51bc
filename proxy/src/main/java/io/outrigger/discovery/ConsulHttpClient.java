package io.outrigger.discovery;

import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.outrigger.listener.Transports;
import io.outrigger.upstream.OneShotHttpClient;

import java.nio.charset.StandardCharsets;

/**
 * GETs from a Consul-style registry with {@link OneShotHttpClient}: one connection per request, a
 * deadline per request, the answer read whole and turned into a {@link Reply}. Thread-safe; every
 * future completes on the client's event loop.
 */
final class ConsulHttpClient {
    private static final int MAX_BODY_BYTES = 16 << 20;

    /**
     * One answer: status, the {@code X-Consul-Index} header (0 when absent or malformed) and the body text. The index is
     * Consul's uint64 in a long's bits: compare it with {@code ==} only and print it with {@link Long#toUnsignedString}.
     */
    record Reply(int status, long index, String body) {}

    private final String host;
    private final int port;
    private final EventLoop loop;
    private final Transports transport;
    private final long connectTimeoutMillis;

    ConsulHttpClient(String host, int port, EventLoop loop, Transports transport, long connectTimeoutMillis) {
        this.host = host;
        this.port = port;
        this.loop = loop;
        this.transport = transport;
        this.connectTimeoutMillis = connectTimeoutMillis;
    }

    /** GETs {@code pathAndQuery}; fails with a {@link java.util.concurrent.TimeoutException} after {@code timeoutMillis}. */
    Future<Reply> get(String pathAndQuery, long timeoutMillis) {
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, pathAndQuery);
        req.headers().set(HttpHeaderNames.HOST, Endpoint.authority(host, port)).set(HttpHeaderNames.ACCEPT, HttpHeaderValues.APPLICATION_JSON);
        Promise<Reply> reply = loop.newPromise();
        OneShotHttpClient.send(loop, transport.clientChannel(), host, port, req, connectTimeoutMillis, timeoutMillis, MAX_BODY_BYTES).addListener(f -> {
            if (!f.isSuccess()) {
                reply.tryFailure(f.cause());
                return;
            }
            FullHttpResponse res = (FullHttpResponse) f.getNow();
            try {
                reply.trySuccess(new Reply(res.status().code(), index(res), res.content().toString(StandardCharsets.UTF_8)));
            } finally {
                res.release();
            }
        });
        return reply;
    }

    private static long index(FullHttpResponse res) {
        try {
            return Long.parseUnsignedLong(res.headers().get("X-Consul-Index", "0"));
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}

package io.outrigger.registry.fake;

import io.netty.channel.EventLoop;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.Future;
import io.outrigger.upstream.OneShotHttpClient;

import java.net.URI;
import java.util.List;

/**
 * Calls another service through the sidecar as an HTTP proxy: {@code GET http://SERVICE/PATH} in proxy form to
 * the sidecar's outbound port, with the trace headers of the incoming request. One connection per call
 * ({@link OneShotHttpClient}), on the caller's event loop; the answer is read whole (up to 4 MiB). Thread-safe.
 */
final class DownstreamCaller {
    /** The headers that carry a trace from one hop to the next. */
    static final List<String> TRACE_HEADERS = List.of("traceparent", "tracestate", "x-request-id");
    private static final int MAX_ANSWER_BYTES = 4 << 20;

    private final URI sidecar;
    private final long timeoutMillis;

    /** @param sidecar the sidecar's outbound listener, {@code http://host:port} */
    DownstreamCaller(URI sidecar, long timeoutMillis) {
        this.sidecar = sidecar;
        this.timeoutMillis = timeoutMillis;
    }

    URI sidecar() {
        return sidecar;
    }

    /** Calls {@code service} at {@code pathAndQuery}; the caller owns (and releases) the response. */
    Future<FullHttpResponse> call(EventLoop loop, String service, String pathAndQuery, HttpHeaders incoming) {
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "http://" + service + pathAndQuery);
        req.headers().set(HttpHeaderNames.HOST, service).set(HttpHeaderNames.ACCEPT, HttpHeaderValues.APPLICATION_JSON);
        for (String h : TRACE_HEADERS) {
            String v = incoming.get(h);
            if (v != null) {
                req.headers().set(h, v);
            }
        }
        int port = sidecar.getPort() > 0 ? sidecar.getPort() : 80;
        return OneShotHttpClient.send(loop, NioSocketChannel.class, sidecar.getHost(), port, req, timeoutMillis, timeoutMillis,
                MAX_ANSWER_BYTES);
    }
}

package io.outrigger.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.util.ReferenceCountUtil;
import io.outrigger.SidecarContext;
import io.outrigger.config.ConfigLoader;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.listener.Transports;
import io.outrigger.time.Ticker;
import io.outrigger.upstream.UpstreamPools;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.outrigger.http.EmbeddedBytes.ascii;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Once the sidecar's answer said {@code Connection: close}, nothing more is answered on that
 * connection, even while the answer is still being written to a client that does not read: bytes
 * the client sent after that request are dropped, and a head of them that times out is no 408
 * (it would be counted and logged for a request the sidecar was never going to take). The
 * listener's own pipeline in an {@link EmbeddedChannel}, with a handler at its head that holds
 * every write, as a socket to a client that reads nothing does.
 */
class RefusalAfterLastAnswerTest {
    private static final long HEADER_TIMEOUT_MILLIS = 1000;

    @TempDir
    Path dir;

    private EventLoopGroup group;
    private EmbeddedChannel ch;
    private final List<Object> held = new ArrayList<>();
    private final List<ChannelPromise> pending = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        Path registry = dir.resolve("registry.json");
        Files.writeString(registry, "{\"services\": {\"service-b\": [{\"host\": \"127.0.0.1\", \"port\": 9}]}}");
        SidecarConfig cfg = ConfigLoader.parse("name: refusal-after-last\nservice: service-a\nregistry: file:" + registry + "\n"
                + "bind_address: 127.0.0.1\nhealth: { interval_ms: 0 }\n"
                + "http: { access_log: false, header_timeout_ms: " + HEADER_TIMEOUT_MILLIS + " }\n"
                + "listeners:\n  outbound: { port: 0 }\n", "test");
        SidecarContext context = new SidecarContext(cfg, FileRegistry.load(registry), Ticker.system());
        group = Transports.NIO.newGroup(1, "refusal-after-last-test");
        UpstreamPools pools = new UpstreamPools(group, Transports.NIO, 2, 60_000, 1000, 8192);
        HeaderTimeoutHandler headerTimeout = new HeaderTimeoutHandler(cfg.http().headerTimeoutMillis());
        HttpListenerCodec codec = new HttpListenerCodec(HttpProxyInitializer.decoderConfig(cfg.http()));
        ch = new EmbeddedChannel(new HoldWrites(), headerTimeout, codec,
                new HttpRequestGuard(headerTimeout, codec, cfg.http().maxBodyBytes()),
                new HttpProxyHandler(context, HttpRoute.outbound(context), pools));
    }

    @AfterEach
    void tearDown() {
        held.forEach(ReferenceCountUtil::release);
        ch.finishAndReleaseAll();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void aHeadTimingOutAfterAConnectionCloseAnswerIsNotAnswered() {
        // The sidecar answers the first request itself (404, unknown service), with Connection: close as asked.
        ch.writeInbound(ascii("GET /first HTTP/1.1\r\nHost: unknown-service\r\nConnection: close\r\n\r\nGET /second HT"));
        ch.runPendingTasks();
        assertEquals(List.of("404"), statuses(), "the answer, still being written");

        ch.advanceTimeBy(HEADER_TIMEOUT_MILLIS + 1, TimeUnit.MILLISECONDS);
        ch.runPendingTasks();
        assertEquals(List.of("404"), statuses(), "no answer after the one that said Connection: close");

        pending.forEach(ChannelPromise::trySuccess); // the client reads the answer
        ch.runPendingTasks();
        ch.advanceTimeBy(LingeringClose.LINGER_MILLIS, TimeUnit.MILLISECONDS);
        ch.runPendingTasks();
        assertFalse(ch.isOpen(), "then the connection closes");
    }

    private List<String> statuses() {
        List<String> out = new ArrayList<>();
        for (Object m : held) {
            if (m instanceof HttpResponse r) {
                out.add(String.valueOf(r.status().code()));
            } else if (m instanceof ByteBuf b && b.toString(StandardCharsets.US_ASCII).startsWith("HTTP/1.1 ")) {
                out.add(b.toString(StandardCharsets.US_ASCII).substring(9, 12));
            }
        }
        return out;
    }

    /** Keeps every write pending, as the socket of a client that reads nothing. */
    private final class HoldWrites extends ChannelOutboundHandlerAdapter {
        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            held.add(msg);
            if (!promise.isVoid()) {
                pending.add(promise);
            }
        }
    }
}

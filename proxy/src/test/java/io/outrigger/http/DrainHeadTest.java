package io.outrigger.http;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.outrigger.SidecarContext;
import io.outrigger.config.ConfigLoader;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.lifecycle.DrainEvent;
import io.outrigger.listener.Transports;
import io.outrigger.time.Ticker;
import io.outrigger.upstream.UpstreamPools;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static io.outrigger.http.EmbeddedBytes.ascii;
import static io.outrigger.http.EmbeddedBytes.outbound;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a drain does to a keep-alive connection between two requests, on the listener's own
 * pipeline in an {@link EmbeddedChannel}: the sidecar answers the requests itself (404, unknown
 * service), so no upstream is involved and every step is deterministic.
 */
class DrainHeadTest {
    @TempDir
    Path dir;

    private EventLoopGroup group;
    private EmbeddedChannel ch;

    @BeforeEach
    void setUp() throws Exception {
        Path registry = dir.resolve("registry.json");
        Files.writeString(registry, "{\"services\": {\"service-b\": [{\"host\": \"127.0.0.1\", \"port\": 9}]}}");
        SidecarConfig cfg = ConfigLoader.parse("name: drain-head\nservice: service-a\nregistry: file:" + registry + "\n"
                + "bind_address: 127.0.0.1\nhealth: { interval_ms: 0 }\nhttp: { access_log: false }\n"
                + "listeners:\n  outbound: { port: 0 }\n", "test");
        SidecarContext context = new SidecarContext(cfg, FileRegistry.load(registry), Ticker.system());
        group = Transports.NIO.newGroup(1, "drain-head-test");
        UpstreamPools pools = new UpstreamPools(group, Transports.NIO, 2, 60_000, 1000, 8192);
        HeaderTimeoutHandler headerTimeout = new HeaderTimeoutHandler(cfg.http().headerTimeoutMillis());
        HttpListenerCodec codec = new HttpListenerCodec(HttpProxyInitializer.decoderConfig(cfg.http()));
        ch = new EmbeddedChannel(headerTimeout, codec,
                new HttpRequestGuard(headerTimeout, codec, cfg.http().maxBodyBytes()),
                new HttpProxyHandler(context, HttpRoute.outbound(context), pools));
    }

    @AfterEach
    void tearDown() {
        ch.finishAndReleaseAll();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Like the drain deadline, a connection failed for want of memory (epoll and NIO fail its read so) is the sidecar's cut. */
    @Test
    void aConnectionFailedForWantOfMemoryIsClosedAsTheSidecarsCut() {
        ch.pipeline().fireExceptionCaught(new OutOfMemoryError("failed to allocate 65536 byte(s) of direct memory"));
        assertFalse(ch.isOpen());
        assertTrue(io.outrigger.lifecycle.ConnectionTracker.closedBySidecar(ch));
    }

    @Test
    void aRequestWhoseHeadIsUnderWayWhenTheDrainComesIsAnsweredThenTheConnectionCloses() {
        assertKeptAlive(send("GET /first HTTP/1.1\r\nHost: unknown-service\r\n\r\n"));
        ch.writeInbound(ascii("GET /second HTTP/1.1\r\nHost: unkn")); // the client has started its next request
        assertDrainAnswersTheRestThenCloses("own-service\r\n\r\n");
    }

    @Test
    void aPipelinedHeadThatCameInTheSameReadAsTheRequestBeforeIsAnsweredToo() {
        // One read: a whole request and the start of the next one (a pipelining client).
        assertKeptAlive(send("GET /first HTTP/1.1\r\nHost: unknown-service\r\n\r\nGET /second HTTP/1.1\r\nHost: unkn"));
        assertDrainAnswersTheRestThenCloses("own-service\r\n\r\n");
    }

    @Test
    void aPipelinedRequestLineEndingExactlyAtTheReadsEndCountsAsBegun() {
        // The decoder consumes a complete request line at once and holds no bytes: the clock must already run.
        assertKeptAlive(send("GET /first HTTP/1.1\r\nHost: unknown-service\r\n\r\nGET /second HTTP/1.1\r\n"));
        assertDrainAnswersTheRestThenCloses("Host: unknown-service\r\n\r\n");
    }

    private static void assertKeptAlive(String response) {
        assertTrue(response.startsWith("HTTP/1.1 404"), response);
        assertFalse(closes(response), response);
    }

    /** A drain now leaves the connection open for the request under way; {@code rest} completes it; it is answered, then the connection closes. */
    private void assertDrainAnswersTheRestThenCloses(String rest) {
        ch.pipeline().fireUserEventTriggered(DrainEvent.INSTANCE);
        ch.runPendingTasks();
        assertTrue(ch.isOpen(), "the half-received request is not dropped");

        String second = send(rest);
        assertTrue(second.startsWith("HTTP/1.1 404"), second);
        assertTrue(closes(second), "the last response says Connection: close: " + second);
        ch.runPendingTasks();
        assertFalse(ch.isOpen(), "then the connection closes");
    }

    @Test
    void anIdleKeepAliveConnectionClosesAfterTheQuietTime() {
        String first = send("GET /first HTTP/1.1\r\nHost: unknown-service\r\n\r\n");
        assertTrue(first.startsWith("HTTP/1.1 404"), first);

        ch.pipeline().fireUserEventTriggered(DrainEvent.INSTANCE);
        ch.runPendingTasks();
        assertTrue(ch.isOpen(), "open a moment longer, for a next request already on its way");
        ch.advanceTimeBy(HttpProxyHandler.DRAIN_QUIET_MILLIS, TimeUnit.MILLISECONDS);
        ch.runPendingTasks();
        assertFalse(ch.isOpen());
    }

    @Test
    void aRequestWithinTheQuietTimeIsAnsweredAsTheLast() {
        send("GET /first HTTP/1.1\r\nHost: unknown-service\r\n\r\n");
        ch.pipeline().fireUserEventTriggered(DrainEvent.INSTANCE);
        ch.runPendingTasks();

        String second = send("GET /second HTTP/1.1\r\nHost: unknown-service\r\n\r\n");
        assertTrue(second.startsWith("HTTP/1.1 404"), second);
        assertTrue(closes(second), "the last response says Connection: close: " + second);
        ch.runPendingTasks();
        assertFalse(ch.isOpen(), "then the connection closes");
    }

    /** Writes {@code text} in and returns what the sidecar wrote back. */
    private String send(String text) {
        ch.writeInbound(ascii(text));
        ch.runPendingTasks();
        return outbound(ch);
    }

    private static boolean closes(String response) {
        return response.toLowerCase(java.util.Locale.ROOT).contains("\r\nconnection: close\r\n");
    }
}

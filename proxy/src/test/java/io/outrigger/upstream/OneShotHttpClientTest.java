package io.outrigger.upstream;

import com.sun.net.httpserver.HttpServer;
import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.Future;
import io.outrigger.listener.Transports;
import io.outrigger.testing.RecordingAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A control-plane call (a registry query) on io_uring whose answer the sidecar has no memory to read
 * fails at once, not after its timeout (a blocking registry query may wait minutes). A real server on
 * loopback; the client's connection gets an allocator that refuses direct buffers once the request is out.
 */
class OneShotHttpClientTest {
    private static final long TIMEOUT_MILLIS = 20_000;

    private EventLoopGroup group;
    private HttpServer server;
    /** Set by the server as it answers: the request went out, the answer's read buffer is refused. */
    private volatile boolean outOfMemory;
    /** Direct buffers as usual until {@link #outOfMemory}, then refused as a full direct memory refuses them. */
    private final ByteBufAllocator runsOut = new AbstractByteBufAllocator(true) {
        @Override
        protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
            return Unpooled.buffer(initialCapacity, maxCapacity);
        }

        @Override
        protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
            if (outOfMemory) {
                throw new OutOfMemoryError("failed to allocate " + initialCapacity + " byte(s) of direct memory");
            }
            return Unpooled.directBuffer(initialCapacity, maxCapacity);
        }

        @Override
        public boolean isDirectBufferPooled() {
            return false;
        }
    };

    @BeforeEach
    void start() throws Exception {
        assumeTrue(Transports.IO_URING.isAvailable(), "io_uring is not available here");
        group = Transports.IO_URING.newGroup(1, "one-shot-test"); // the sidecar's loops: out-of-memory guarded
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            outOfMemory = true;
            byte[] body = "ok".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
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

    private Future<FullHttpResponse> call(ByteBufAllocator allocator) {
        return call(group, allocator);
    }

    private Future<FullHttpResponse> call(EventLoopGroup group, ByteBufAllocator allocator) {
        return OneShotHttpClient.send(group.next(), Transports.IO_URING.clientChannel(), "127.0.0.1", server.getAddress().getPort(),
                new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/v1/health/service/svc"), 2_000, TIMEOUT_MILLIS,
                65536, allocator);
    }

    @Test
    void anAnswerIsRead() throws Exception {
        FullHttpResponse res = call(null).get(5, TimeUnit.SECONDS);
        outOfMemory = false;
        try {
            assertEquals(200, res.status().code());
        } finally {
            res.release();
        }
    }

    @Test
    void anAnswerThereIsNoMemoryToReadFailsTheCallAtOnce() throws Exception {
        long start = System.nanoTime();
        Future<FullHttpResponse> f = call(runsOut).await();
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(!f.isSuccess() && OutOfMemory.causedBy(f.cause()), "failed for want of memory: " + f.cause());
        assertTrue(millis < TIMEOUT_MILLIS / 2, "failed after " + millis + " ms, not at once");
    }

    /**
     * A call whose connection completes as its loop shuts down (io_uring drains its ring then, running the connect's
     * listeners): nothing is written, since no send would follow, and a buffer encoded for it would never be released.
     * Every buffer the connection allocated is checked released once the loop is gone, without waiting for a GC.
     */
    @Test
    void aConnectThatCompletesAsTheLoopShutsDownWritesNothing() throws Exception {
        RecordingAllocator recording = new RecordingAllocator();
        AtomicReference<Future<FullHttpResponse>> call = new AtomicReference<>();
        EventLoopGroup closing = group;
        group = null; // shut down here, not by stop()
        closing.next().execute(() -> {
            call.set(call(closing, recording));
            closing.shutdownGracefully(0, 0, TimeUnit.SECONDS); // the connect completes as the loop drains its ring
        });
        assertTrue(closing.terminationFuture().await(10, TimeUnit.SECONDS), "the loop ended");

        assertTrue(call.get().isDone() && !call.get().isSuccess(), "the call failed: " + call.get());
        assertEquals(List.of(), recording.unreleased(), "buffers of the call never released: " + call.get().cause());
    }
}

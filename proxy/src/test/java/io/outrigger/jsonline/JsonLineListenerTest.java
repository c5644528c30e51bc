package io.outrigger.jsonline;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.outrigger.Sidecar;
import io.outrigger.SidecarContext;
import io.outrigger.config.ConfigLoader;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.listener.Transports;
import io.outrigger.time.Ticker;
import io.outrigger.testing.Await;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static io.outrigger.jsonline.JsonLineTesting.assertReply;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The jsonline listener of a running sidecar, over a real loopback socket. */
class JsonLineListenerTest {
    private Sidecar sidecar;
    private int port;

    @BeforeEach
    void start() throws Exception {
        SidecarContext context = new SidecarContext(ConfigLoader.parse(
                "name: sidecar-x\nlisteners:\n  jsonline: { port: 0 }\n", "test"), FileRegistry.embedded(), Ticker.system());
        sidecar = new Sidecar(context);
        sidecar.start();
        port = sidecar.boundPorts().get("jsonline");
    }

    @AfterEach
    void stop() {
        sidecar.close();
    }

    private Socket connect() throws Exception {
        Socket s = new Socket("127.0.0.1", port);
        s.setSoTimeout(5_000);
        return s;
    }

    @Test
    void answersLinesWithTheConfiguredSidecarName() throws Exception {
        try (Socket s = connect()) {
            OutputStream out = s.getOutputStream();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            out.write(("{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":1},\"proxy\":true}\n"
                    + "garbage\n"
                    + "{\"src\":\"c\",\"dest\":\"r\",\"body\":{\"type\":\"discover\",\"msg_id\":2,\"service\":\"service-b\"}}\r\n").getBytes(StandardCharsets.UTF_8));
            assertReply("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"proxied\",\"in_reply_to\":1,"
                    + "\"proxied_by\":\"sidecar-x\",\"trace_id\":\"<uuid>\"}}", in.readLine());
            assertEquals("{\"src\":\"r\",\"dest\":\"c\",\"body\":{\"type\":\"discovered\",\"in_reply_to\":2,\"service\":\"service-b\","
                    + "\"instances\":[{\"host\":\"10.0.1.1\",\"port\":8080},{\"host\":\"10.0.1.2\",\"port\":8080}]}}", in.readLine());
        }
    }

    /** Bytes that are not UTF-8 make a line malformed (code 12 when its msg_id can be read); the next line is answered. */
    @Test
    void linesThatAreNotUtf8AreMalformed() throws Exception {
        try (Socket s = connect()) {
            s.getOutputStream().write(JsonLineTesting.linesWithInvalidUtf8());
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            for (String expected : JsonLineTesting.REPLIES_TO_INVALID_UTF8) {
                assertEquals(expected, in.readLine());
            }
            s.shutdownOutput();
            assertNull(in.readLine(), "no other reply");
        }
    }

    @Test
    void halfCloseStillGetsTheRepliesInFlight() throws Exception {
        try (Socket s = connect()) {
            long start = System.nanoTime(); // before the call is sent: the sidecar may start its backoff before write() returns
            s.getOutputStream().write(("{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":4,"
                    + "\"retries\":3,\"base_ms\":50,\"force_failures\":2}}").getBytes(StandardCharsets.UTF_8));
            s.shutdownOutput();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            assertReply("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"proxied\",\"in_reply_to\":4,"
                    + "\"proxied_by\":\"sidecar-x\",\"trace_id\":\"<uuid>\",\"attempts\":3,\"backoff_ms\":[50,100]}}", in.readLine());
            assertTrue(System.nanoTime() - start >= 150_000_000L, "the reply came after the real 150 ms of backoff");
            assertNull(in.readLine(), "then the sidecar closes the connection");
        }
    }

    @Test
    void connectionsShareTheSidecarsBreakers() throws Exception {
        try (Socket a = connect(); Socket b = connect()) {
            a.getOutputStream().write("{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":1,\"force_failures\":5}}\n"
                    .getBytes(StandardCharsets.UTF_8));
            assertEquals("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"circuit_breaker_open\",\"in_reply_to\":1,\"service\":\"service-b\",\"failures\":5}}",
                    new BufferedReader(new InputStreamReader(a.getInputStream(), StandardCharsets.UTF_8)).readLine());
            b.getOutputStream().write("{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":2}}\n".getBytes(StandardCharsets.UTF_8));
            assertEquals("{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"error\",\"in_reply_to\":2,\"error\":\"Circuit breaker OPEN\",\"service\":\"service-b\"}}",
                    new BufferedReader(new InputStreamReader(b.getInputStream(), StandardCharsets.UTF_8)).readLine());
        }
    }

    /**
     * A call waiting on its retries when its client resets the connection stops: no further attempt
     * judges the breaker for a caller that is gone (as the HTTP and TCP edges stop theirs).
     */
    @Test
    void aCallWhoseClientResetsMakesNoFurtherAttempt() throws Exception {
        record Exchange(String edge, int attempts, int status) {}
        Queue<Exchange> exchanges = new ConcurrentLinkedQueue<>();
        AtomicInteger retries = new AtomicInteger();
        io.outrigger.metrics.ProxyMetrics recording = new io.outrigger.metrics.ProxyMetrics() {
            @Override
            public void onExchange(String edge, String service, io.outrigger.discovery.Endpoint instance, int status, int attempts,
                                   long durationNanos) {
                exchanges.add(new Exchange(edge, attempts, status));
            }

            @Override
            public void onRetry(String edge, String service) {
                retries.incrementAndGet();
            }
        };
        SidecarContext context = new SidecarContext(ConfigLoader.parse("listeners:\n  jsonline: { port: 0 }\n", "test"),
                FileRegistry.embedded(), Ticker.system(), recording);
        Sidecar other = new Sidecar(context);
        java.io.PrintStream stderr = System.err;
        java.io.ByteArrayOutputStream logged = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(logged, true, StandardCharsets.UTF_8)); // slf4j-simple looks System.err up per line
        try {
            other.start();
            io.outrigger.resilience.CircuitBreaker breaker = context.breakers().forService("service-b");
            try (Socket s = new Socket("127.0.0.1", other.boundPorts().get("jsonline"))) {
                s.getOutputStream().write(("{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":1,"
                        + "\"retries\":4,\"base_ms\":10000,\"force_failures\":4}}\n").getBytes(StandardCharsets.UTF_8));
                // The retry waits base_ms (10 s): the reset comes long before it even if this thread stalls. At 200 ms a
                // stall on a loaded machine could let the retry go first, and the call ended after two attempts.
                await("the first attempt to fail", () -> breaker.consecutiveFailures() == 1);
                s.setSoLinger(true, 0); // a reset: the channel closes at once, no half-close
            }
            await("the call to end", () -> !exchanges.isEmpty());
            assertEquals(new Exchange("jsonline", 1, 499), exchanges.peek(), "the call stopped after its one attempt (499: its client left)");
            assertEquals(1, breaker.consecutiveFailures());
            assertEquals(0, retries.get(), "the retry planned, then cancelled, was never made: not counted (as on the HTTP edges)");
            String log = logged.toString(StandardCharsets.UTF_8);
            assertFalse(log.contains("CancellationException"), "a call cancelled because its client left is no failure to report: " + log);
        } finally {
            System.setErr(stderr);
            other.close();
        }
    }

    /**
     * {@code listeners.jsonline.idle_timeout_ms}: a connection that never sends anything, and one that goes
     * silent after its replies, are closed; one whose call waits on a retry longer than that is not, and gets
     * its reply, then closes once idle.
     */
    @Test
    void idleConnectionsCloseButNotWhileACallIsInFlight() throws Exception {
        SidecarContext context = new SidecarContext(ConfigLoader.parse(
                "listeners:\n  jsonline: { port: 0, idle_timeout_ms: 300 }\n", "test"), FileRegistry.embedded(), Ticker.system());
        Sidecar other = new Sidecar(context);
        try {
            other.start();
            int idlePort = other.boundPorts().get("jsonline");
            try (Socket silent = new Socket("127.0.0.1", idlePort)) {
                silent.setSoTimeout(5_000);
                assertEquals(-1, silent.getInputStream().read(), "a connection that never sends is closed");
            }
            try (Socket s = new Socket("127.0.0.1", idlePort)) {
                s.setSoTimeout(5_000);
                BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                s.getOutputStream().write("{\"src\":\"c\",\"dest\":\"n\",\"body\":{\"type\":\"init\",\"msg_id\":1,\"node_id\":\"n\",\"node_ids\":[\"n\"]}}\n"
                        .getBytes(StandardCharsets.UTF_8));
                assertEquals("{\"src\":\"n\",\"dest\":\"c\",\"body\":{\"type\":\"init_ok\",\"in_reply_to\":1,\"msg_id\":0}}", in.readLine());
                // A retry waits 1000 ms, more than three idle timeouts: the connection stays open for its reply.
                long sent = System.nanoTime();
                s.getOutputStream().write(("{\"src\":\"service-a\",\"dest\":\"service-q\",\"body\":{\"type\":\"call\",\"msg_id\":2,"
                        + "\"retries\":1,\"base_ms\":1000,\"force_failures\":1}}\n").getBytes(StandardCharsets.UTF_8));
                assertReply("{\"src\":\"service-q\",\"dest\":\"service-a\",\"body\":{\"type\":\"proxied\",\"in_reply_to\":2,"
                        + "\"proxied_by\":\"sidecar\",\"trace_id\":\"<uuid>\",\"attempts\":2,\"backoff_ms\":[1000]}}", in.readLine());
                assertTrue(System.nanoTime() - sent >= TimeUnit.MILLISECONDS.toNanos(1000), "the reply came after the backoff");
                assertNull(in.readLine(), "then, silent, the connection is closed");
            }
        } finally {
            other.close();
        }
    }

    /**
     * More replies than the socket buffers hold are still queued in the sidecar when it reads the
     * client's FIN: the connection closes only once they have all been written.
     */
    @Test
    void halfCloseAfterABurstGetsEveryReply() throws Exception {
        int lines = 5_000;
        StringBuilder burst = new StringBuilder();
        for (int i = 1; i <= lines; i++) {
            burst.append("{\"src\":\"c\",\"dest\":\"n\",\"body\":{\"type\":\"discover\",\"msg_id\":").append(i)
                    .append(",\"service\":\"service-b\"}}\n");
        }
        try (Socket s = connect()) {
            CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
                try {
                    s.getOutputStream().write(burst.toString().getBytes(StandardCharsets.UTF_8));
                    s.shutdownOutput();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            Set<String> answered = new HashSet<>();
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                assertTrue(line.startsWith("{\"src\":\"n\",\"dest\":\"c\",\"body\":{\"type\":\"discovered\",\"in_reply_to\":"), line);
                answered.add(line.substring(0, line.indexOf(",\"service\"")));
            }
            sent.get(5, TimeUnit.SECONDS);
            assertEquals(lines, answered.size(), "replies before the sidecar closed the connection");
        }
    }

    /**
     * Calls that wait on a retry's backoff: once {@link JsonLineDispatcher#MAX_IN_FLIGHT} of them wait, the
     * connection stops reading (its client could otherwise grow the sidecar without bound), and reads again
     * when they are answered.
     */
    @Test
    void aConnectionStopsReadingWhileTooManyRequestsWait() throws Exception {
        EventLoopGroup group = Transports.NIO.newGroup(1, "jsonline-test");
        Queue<Channel> accepted = new ConcurrentLinkedQueue<>();
        ChannelInboundHandlerAdapter capture = new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                accepted.add((Channel) msg);
                ctx.fireChannelRead(msg);
            }

            @Override
            public boolean isSharable() {
                return true;
            }
        };
        Channel server = JsonLineListener.bind(sidecar.context(), group, Transports.NIO.serverChannel(), capture, "127.0.0.1",
                new SidecarConfig.JsonLine(0, 0));
        try (Socket s = new Socket("127.0.0.1", ((InetSocketAddress) server.localAddress()).getPort())) {
            AtomicInteger retried = new AtomicInteger();
            Thread reader = new Thread(() -> {
                try {
                    BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                    for (String line = in.readLine(); line != null; line = in.readLine()) {
                        if (line.contains("\"attempts\":2")) {
                            retried.incrementAndGet();
                        }
                    }
                } catch (IOException closed) {
                    // the socket is closed at the end of the test
                }
            }, "reply-reader");
            reader.setDaemon(true);
            reader.start();
            StringBuilder lines = new StringBuilder();
            int waiting = 0;
            for (int i = 0; waiting < JsonLineDispatcher.MAX_IN_FLIGHT; i++) {
                // Four failing calls, then one that succeeds: the breaker never sees 5 failures in a row.
                boolean waits = i % 5 != 4;
                lines.append("{\"src\":\"c\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":").append(i)
                        .append(waits ? ",\"retries\":1,\"base_ms\":1000,\"force_failures\":1}}\n" : "}}\n");
                waiting += waits ? 1 : 0;
            }
            s.getOutputStream().write(lines.toString().getBytes(StandardCharsets.UTF_8));
            await("the connection to stop reading", () -> accepted.size() == 1 && !accepted.peek().config().isAutoRead());
            await("every waiting call to be answered", () -> retried.get() == JsonLineDispatcher.MAX_IN_FLIGHT);
            await("the connection to read again", () -> accepted.peek().config().isAutoRead());
        } finally {
            server.close().sync();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /**
     * A client that takes its replies slowly (here: not at all for an idle timeout, then all of them) while it
     * sends more calls: its replies wait in the sidecar and the sidecar stops reading it, so nothing is read or
     * written for the idle timeout. The connection was closed then (the unread calls made it a reset) and the
     * replies were lost; replies waiting to be sent now keep it open.
     */
    @Test
    void aClientReadingSlowlyIsNotIdle() throws Exception {
        EventLoopGroup group = Transports.NIO.newGroup(1, "jsonline-test");
        Queue<Channel> accepted = new ConcurrentLinkedQueue<>();
        AtomicInteger idleEvents = new AtomicInteger();
        ChannelInboundHandlerAdapter capture = idleCountingCapture(accepted, idleEvents);
        Channel server = JsonLineListener.bind(sidecar.context(), group, Transports.NIO.serverChannel(), capture, "127.0.0.1",
                new SidecarConfig.JsonLine(0, 2_000)); // once the client reads, it must not stall this long
        try (Socket s = new Socket()) {
            s.setReceiveBufferSize(2048);
            s.setSendBufferSize(16 * 1024);
            s.connect(new InetSocketAddress("127.0.0.1", ((InetSocketAddress) server.localAddress()).getPort()));
            s.setSoTimeout(10_000);
            AtomicInteger sent = new AtomicInteger();
            java.util.concurrent.atomic.AtomicBoolean enough = new java.util.concurrent.atomic.AtomicBoolean();
            CompletableFuture<Void> sender = CompletableFuture.runAsync(() -> {
                try {
                    OutputStream out = s.getOutputStream();
                    while (!enough.get()) {
                        StringBuilder batch = new StringBuilder();
                        for (int i = 0; i < 500; i++) {
                            batch.append("{\"src\":\"c\",\"dest\":\"n\",\"body\":{\"type\":\"discover\",\"msg_id\":")
                                    .append(sent.get() + i).append(",\"service\":\"service-b\"}}\n");
                        }
                        out.write(batch.toString().getBytes(StandardCharsets.UTF_8));
                        sent.addAndGet(500);
                    }
                    s.shutdownOutput();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            await("the sidecar to hold replies the client has not taken", () -> !accepted.isEmpty() && !accepted.peek().isWritable());
            int before = idleEvents.get();
            await("an idle timeout to pass with the replies waiting, or a close",
                    () -> idleEvents.get() > before || !accepted.peek().isActive());
            assertTrue(accepted.peek().isActive(), "the connection is still open after an idle timeout");
            enough.set(true);
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            int replies = 0;
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                replies++;
            }
            sender.get(10, TimeUnit.SECONDS);
            assertEquals(sent.get(), replies, "every call answered");
        } finally {
            for (Channel c : accepted) {
                c.close().sync();
            }
            server.close().sync();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void aClientThatStopsReadingIsClosedAtItsSecondIdleTimeout() throws Exception {
        EventLoopGroup group = Transports.NIO.newGroup(1, "jsonline-test");
        Queue<Channel> accepted = new ConcurrentLinkedQueue<>();
        AtomicInteger idleEvents = new AtomicInteger();
        ChannelInboundHandlerAdapter capture = idleCountingCapture(accepted, idleEvents);
        Channel server = JsonLineListener.bind(sidecar.context(), group, Transports.NIO.serverChannel(), capture, "127.0.0.1",
                new SidecarConfig.JsonLine(0, 500));
        try (Socket s = new Socket()) {
            s.setReceiveBufferSize(2048);
            s.connect(new InetSocketAddress("127.0.0.1", ((InetSocketAddress) server.localAddress()).getPort()));
            OutputStream out = s.getOutputStream();
            // Calls until the sidecar holds replies it cannot send (it then stops reading, and the writes here block).
            CompletableFuture<Void> sender = CompletableFuture.runAsync(() -> {
                try {
                    for (int n = 0; ; n += 500) {
                        StringBuilder batch = new StringBuilder();
                        for (int i = 0; i < 500; i++) {
                            batch.append("{\"src\":\"c\",\"dest\":\"n\",\"body\":{\"type\":\"discover\",\"msg_id\":")
                                    .append(n + i).append(",\"service\":\"service-b\"}}\n");
                        }
                        out.write(batch.toString().getBytes(StandardCharsets.UTF_8));
                    }
                } catch (IOException closedBySidecar) {
                    // the end this test waits for
                }
            });
            await("the sidecar to hold replies the client has not taken", () -> !accepted.isEmpty() && !accepted.peek().isWritable());
            await("the connection of a client that reads nothing to close", () -> !accepted.peek().isActive());
            assertTrue(idleEvents.get() >= 2, "closed at an idle timeout after the first, not before: " + idleEvents.get() + " idle events");
            sender.get(10, TimeUnit.SECONDS);
        } finally {
            for (Channel c : accepted) {
                c.close().sync();
            }
            server.close().sync();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /**
     * A handler for the listener's accepted channels: collects them in {@code accepted}, gives them socket buffers
     * that fill soon, whatever the OS would tune them to, and counts the idle handler's events in {@code idleEvents}.
     */
    private static ChannelInboundHandlerAdapter idleCountingCapture(Queue<Channel> accepted, AtomicInteger idleEvents) {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                Channel child = (Channel) msg;
                accepted.add(child);
                child.config().setOption(io.netty.channel.ChannelOption.SO_SNDBUF, 16 * 1024);
                child.config().setOption(io.netty.channel.ChannelOption.SO_RCVBUF, 16 * 1024);
                // Once the listener's handlers are in (they are by channelActive): count the idle handler's events.
                child.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelActive(ChannelHandlerContext c) {
                        c.pipeline().addAfter("idle", "idle-count", new ChannelInboundHandlerAdapter() {
                            @Override
                            public void userEventTriggered(ChannelHandlerContext i, Object evt) {
                                if (evt instanceof io.netty.handler.timeout.IdleStateEvent) {
                                    idleEvents.incrementAndGet();
                                }
                                i.fireUserEventTriggered(evt);
                            }
                        });
                        c.pipeline().remove(this);
                        c.fireChannelActive();
                    }
                });
                ctx.fireChannelRead(msg);
            }

            @Override
            public boolean isSharable() {
                return true;
            }
        };
    }

    private static void await(String what, java.util.function.BooleanSupplier condition) throws InterruptedException {
        Await.until(what, java.time.Duration.ofSeconds(10), condition);
    }
}

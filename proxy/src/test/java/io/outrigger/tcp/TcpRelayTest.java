package io.outrigger.tcp;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.outrigger.Sidecar;
import io.outrigger.SidecarContext;
import io.outrigger.config.ConfigLoader;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.Endpoint;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.listener.Transports;
import io.outrigger.metrics.ProxyMetrics;
import io.outrigger.resilience.CircuitBreaker;
import io.outrigger.time.Ticker;
import io.outrigger.testing.Await;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The raw TCP relay through real loopback sockets to a Netty echo server. */
class TcpRelayTest {
    private EventLoopGroup echoGroup;
    private Channel echoServer;
    private final ChannelGroup echoChildren = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private final AtomicInteger echoInputShutdowns = new AtomicInteger();
    private final AtomicInteger echoAccepted = new AtomicInteger();
    private final Queue<Exchange> exchanges = new ConcurrentLinkedQueue<>();
    private final AtomicInteger retries = new AtomicInteger();
    private Sidecar sidecar;
    /** The sidecar's transport: the best this machine offers, unless a test run per transport sets it before starting the relay. */
    private Transports transport = Transports.best();
    private final List<Socket> refusing = new ArrayList<>();

    private record Exchange(String edge, String service, Endpoint instance, int status, int attempts) {}

    /** Echoes what it reads; a FIN is answered with a FIN after the echo (half-close), then the channel closes. */
    @ChannelHandler.Sharable
    private final class EchoHandler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            echoAccepted.incrementAndGet();
            echoChildren.add(ctx.channel());
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.writeAndFlush(msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt == ChannelInputShutdownEvent.INSTANCE) {
                echoInputShutdowns.incrementAndGet();
                ctx.writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER)
                        .addListener((ChannelFutureListener) f -> ((DuplexChannel) f.channel()).shutdownOutput()
                                .addListener(done -> f.channel().close()));
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    @BeforeEach
    void startEcho() throws InterruptedException {
        echoGroup = Transports.NIO.newGroup(1, "echo");
        echoServer = new ServerBootstrap().group(echoGroup).channel(Transports.NIO.serverChannel())
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childHandler(new EchoHandler())
                .bind("127.0.0.1", 0).sync().channel();
    }

    @AfterEach
    void stop() {
        if (sidecar != null) {
            sidecar.close();
        }
        echoServer.close().syncUninterruptibly();
        echoGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        for (Socket s : refusing) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing a socket that never connected
            }
        }
    }

    private int echoPort() {
        return ((InetSocketAddress) echoServer.localAddress()).getPort();
    }

    /**
     * A loopback port nobody listens on: connecting to it is refused. A socket bound to it, never
     * listening, holds it until the test ends, so no other bind (another test, another process on the
     * machine) can take it in the meantime, as it could a port merely bound and closed again.
     */
    private int refusedPort() throws IOException {
        Socket holder = new Socket();
        refusing.add(holder);
        holder.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        return holder.getLocalPort();
    }

    /** Starts a sidecar with one TCP listener for {@code svc}; returns its port. */
    private int startRelay(List<Endpoint> instances, String extraYaml, int maxRetries) throws Exception {
        return startRelay(instances, extraYaml, maxRetries, 2);
    }

    private int startRelay(List<Endpoint> instances, String extraYaml, int maxRetries, int failureThreshold) throws Exception {
        return startRelay(instances, extraYaml, maxRetries, failureThreshold, 2000);
    }

    private int startRelay(List<Endpoint> instances, String extraYaml, int maxRetries, int failureThreshold, int connectMillis)
            throws Exception {
        return startRelay(instances, extraYaml, maxRetries, failureThreshold, connectMillis, "base_ms: 1, max_ms: 2");
    }

    private int startRelay(List<Endpoint> instances, String extraYaml, int maxRetries, int failureThreshold, int connectMillis,
                           String backoffYaml) throws Exception {
        return startRelay(instances, extraYaml, maxRetries, failureThreshold, connectMillis, backoffYaml, Ticker.system());
    }

    private int startRelay(List<Endpoint> instances, String extraYaml, int maxRetries, int failureThreshold, int connectMillis,
                           String backoffYaml, Ticker ticker) throws Exception {
        SidecarConfig cfg = ConfigLoader.parse("""
                io_threads: 1
                resilience:
                  breaker: { failure_threshold: %d, open_ms: 60000, half_open_probes: 1 }
                  retry: { max_retries: %d, %s }
                  timeouts: { connect_ms: %d, request_ms: 5000 }
                """.formatted(failureThreshold, maxRetries, backoffYaml, connectMillis) + extraYaml, "test");
        ProxyMetrics recording = new ProxyMetrics() {
            @Override
            public void onExchange(String edge, String service, Endpoint instance, int status, int attempts, long durationNanos) {
                exchanges.add(new Exchange(edge, service, instance, status, attempts)); // asserted on the test thread
            }

            @Override
            public void onRetry(String edge, String service) {
                retries.incrementAndGet();
            }
        };
        SidecarContext ctx = new SidecarContext(cfg, new FileRegistry(Map.of("svc", instances), "test"), ticker, recording);
        sidecar = new Sidecar(ctx, transport, cfg.ioThreads());
        sidecar.start();
        return sidecar.boundPorts().get("tcp:svc");
    }

    private static final String ONE_LISTENER = "listeners:\n  tcp: [ { port: 0, service: svc } ]\n";

    private int startRelay(List<Endpoint> instances) throws Exception {
        return startRelay(instances, ONE_LISTENER, 2);
    }

    private static Socket connect(int port) throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        s.setSoTimeout(5000);
        return s;
    }

    private static byte[] readN(InputStream in, int n) throws IOException {
        byte[] b = in.readNBytes(n);
        assertEquals(n, b.length, "stream ended early");
        return b;
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        Await.until(what, Duration.ofSeconds(5), condition);
    }

    @Test
    void relaysBytesBothWaysWithBackpressure() throws Exception {
        int port = startRelay(List.of(new Endpoint("127.0.0.1", echoPort())));
        try (Socket s = connect(port)) {
            s.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
            assertEquals("hello", new String(readN(s.getInputStream(), 5), StandardCharsets.US_ASCII));

            // 4 MiB written while the reader lags: more than the socket buffers hold, so it only
            // completes if the relay stops reading and resumes correctly in both directions.
            byte[] payload = new byte[4 << 20];
            ThreadLocalRandom.current().nextBytes(payload);
            CompletableFuture<Void> written = CompletableFuture.runAsync(() -> {
                try {
                    OutputStream out = s.getOutputStream();
                    for (int off = 0; off < payload.length; off += 65536) {
                        out.write(payload, off, 65536);
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            assertArrayEquals(payload, readN(s.getInputStream(), payload.length));
            written.get(5, TimeUnit.SECONDS); // the writer's own failure, if any, fails the test here
        }
        await("the exchange to be reported", () -> !exchanges.isEmpty());
        Exchange e = exchanges.peek();
        assertEquals(new Exchange("tcp", "svc", new Endpoint("127.0.0.1", echoPort()), 0, 1), e);
    }

    @Test
    void resolvesInstanceHostNamesWithoutBlocking() throws Exception {
        int port = startRelay(List.of(new Endpoint("localhost", echoPort()))); // through Netty's async DNS resolver
        try (Socket s = connect(port)) {
            s.getOutputStream().write("by name".getBytes(StandardCharsets.US_ASCII));
            assertEquals("by name", new String(readN(s.getInputStream(), 7), StandardCharsets.US_ASCII));
        }
    }

    @Test
    void stopsReadingTheClientWhileTheUpstreamDoesNotRead() throws Exception {
        // An upstream that accepts and does not read: without backpressure the relay would buffer
        // everything the client sends; with it, the client's writes block once the socket buffers fill.
        ChannelGroup sinkChildren = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
        Channel sink = new ServerBootstrap().group(echoGroup).channel(Transports.NIO.serverChannel())
                .childOption(ChannelOption.AUTO_READ, false)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        sinkChildren.add(ch);
                    }
                })
                .bind("127.0.0.1", 0).sync().channel();
        try {
            int port = startRelay(List.of(new Endpoint("127.0.0.1", ((InetSocketAddress) sink.localAddress()).getPort())),
                    "listeners:\n  tcp: [ { port: 0, service: svc, idle_timeout_ms: 2000 } ]\n", 2);
            long cap = 256L << 20;
            AtomicLong written = new AtomicLong();
            Socket s = connect(port);
            await("the sink to accept the relay's connection", () -> sinkChildren.size() == 1);
            Thread writer = new Thread(() -> {
                byte[] chunk = new byte[65536];
                try {
                    OutputStream out = s.getOutputStream();
                    while (written.get() < cap) {
                        out.write(chunk);
                        written.addAndGet(chunk.length);
                    }
                } catch (IOException closed) {
                    // the socket is closed at the end of the test
                }
            }, "blocked-writer");
            writer.setDaemon(true);
            writer.start();
            // Wait until the writer is stuck: no progress for 200 ms (loopback moves ~GB/s otherwise),
            // well inside the idle timeout, which would close the stalled relay.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            long last = -1;
            long stableSince = System.nanoTime();
            while (System.nanoTime() - stableSince < TimeUnit.MILLISECONDS.toNanos(200)) {
                assertTrue(System.nanoTime() < deadline && written.get() < cap,
                        "the client was never slowed down: " + written.get() + " bytes accepted");
                long now = written.get();
                if (now != last) {
                    last = now;
                    stableSince = System.nanoTime();
                }
                Thread.sleep(20);
            }
            assertTrue(written.get() < 64L << 20, "the relay buffered " + written.get() + " bytes");
            long stalledAfterMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - (deadline - TimeUnit.SECONDS.toNanos(10)));
            assertEquals(1, sinkChildren.size(), () -> "the upstream closed; stalled after " + stalledAfterMillis + " ms at "
                    + written.get() + " bytes; exchanges " + exchanges);

            // The client leaves; its FIN waits behind the unread bytes, so the idle timeout closes
            // the client side. Once the sink drains what was relayed, it sees the upstream closed too.
            s.close();
            await("the client side to close", () -> exchanges.size() == 1);
            sinkChildren.forEach(ch -> ch.config().setAutoRead(true));
            await("the upstream to close", sinkChildren::isEmpty);
        } finally {
            sink.close().sync();
        }
    }

    @Test
    void passesHalfCloseThrough() throws Exception {
        int port = startRelay(List.of(new Endpoint("127.0.0.1", echoPort())));
        try (Socket s = connect(port)) {
            s.getOutputStream().write("last words".getBytes(StandardCharsets.US_ASCII));
            s.shutdownOutput(); // FIN to the relay; the echo server must see it and answer with its own
            byte[] rest = s.getInputStream().readAllBytes(); // returns only at the relayed FIN
            assertEquals("last words", new String(rest, StandardCharsets.US_ASCII));
            assertEquals(1, echoInputShutdowns.get());
        }
        await("the upstream connection to close", () -> echoChildren.isEmpty());
    }

    /**
     * A client that sends its request and half-closes at once, then reads a long answer slowly: every byte must
     * reach it, then a clean end of stream. The relay's writes to it wait for room after its FIN came in, which on
     * io_uring is where Netty 4.2.18 could lose a POLLOUT (see {@code IoUringPollOutIoHandler}).
     */
    @ParameterizedTest
    @EnumSource(Transports.class)
    void relaysALongAnswerToAClientThatHalfClosedFirst(Transports transport) throws Exception {
        assumeTrue(transport.isAvailable(), transport + " is not available on this machine");
        this.transport = transport;
        int down = 4 << 20;
        byte[] answer = new byte[down];
        ThreadLocalRandom.current().nextBytes(answer);
        CompletableFuture<String> request = new CompletableFuture<>();
        try (ServerSocket upstream = new ServerSocket(0, 16, InetAddress.getLoopbackAddress())) {
            Thread server = new Thread(() -> {
                try (Socket c = upstream.accept()) {
                    request.complete(new String(c.getInputStream().readAllBytes(), StandardCharsets.US_ASCII)); // to the relayed FIN
                    c.getOutputStream().write(answer);
                    c.shutdownOutput();
                } catch (Exception e) {
                    request.completeExceptionally(e);
                }
            }, "upstream");
            server.setDaemon(true);
            server.start();
            int port = startRelay(List.of(new Endpoint("127.0.0.1", upstream.getLocalPort())));
            try (Socket s = connect(port)) {
                s.setSoTimeout(20_000);
                s.getOutputStream().write("get it all".getBytes(StandardCharsets.US_ASCII));
                s.shutdownOutput();
                assertEquals("get it all", request.get(20, TimeUnit.SECONDS));
                java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream(down);
                InputStream in = s.getInputStream();
                byte[] buf = new byte[4 * 1024];
                try {
                    for (int n; (n = in.read(buf)) >= 0; ) {
                        got.write(buf, 0, n);
                        TimeUnit.MICROSECONDS.sleep(500); // a slow reader: the relay's writes wait for room; synchronises nothing
                    }
                } catch (java.net.SocketTimeoutException stalled) {
                    fail(transport + ": the download stalled after " + got.size() + " of " + down + " bytes");
                }
                assertEquals(down, got.size(), transport + ": bytes the client received before a clean end of stream");
                assertArrayEquals(answer, got.toByteArray());
            }
        }
    }

    /**
     * The upstream answers and half-closes first, then reads the client's long stream slowly. Every byte the
     * client sent must reach it, followed by a clean end of stream. On io_uring, client connections read into the
     * shared buffer ring kept a multishot receive armed whatever the relay's backpressure, so the ring filled with
     * bytes queued for the slow upstream, and the relay then stalled with megabytes unsent (the idle timeout later
     * closed it with a FIN: the upstream saw a cut stream as complete). On epoll, Netty 4.2.18 took the upstream
     * connection out of the epoll set once its input was shut and nothing else was asked for; the next write that
     * had to wait for room failed (epoll_ctl MOD: ENOENT) and Netty shut the output down: a cut stream, then a FIN.
     */
    @ParameterizedTest
    @EnumSource(Transports.class)
    void relaysAClientsLongStreamToAnUpstreamThatHalfClosedFirst(Transports transport) throws Exception {
        assumeTrue(transport.isAvailable(), transport + " is not available on this machine");
        this.transport = transport;
        int up = 6 << 20;
        int down = 100_000;
        byte[] sent = new byte[up];
        ThreadLocalRandom.current().nextBytes(sent);
        CompletableFuture<byte[]> received = new CompletableFuture<>();
        CompletableFuture<Void> written = new CompletableFuture<>();
        try (ServerSocket upstream = new ServerSocket(0, 16, InetAddress.getLoopbackAddress())) {
            Thread server = new Thread(() -> {
                try (Socket c = upstream.accept()) {
                    c.getOutputStream().write(new byte[down]);
                    c.shutdownOutput(); // its answer is complete before the client's request is
                    InputStream in = c.getInputStream();
                    java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream(up);
                    byte[] buf = new byte[4096];
                    for (int n; (n = in.read(buf)) >= 0; ) {
                        got.write(buf, 0, n);
                        TimeUnit.MICROSECONDS.sleep(500); // a slow reader: throttles, synchronises nothing
                    }
                    received.complete(got.toByteArray());
                } catch (Exception e) {
                    received.completeExceptionally(e);
                }
            }, "slow-upstream");
            server.setDaemon(true);
            server.start();
            int port = startRelay(List.of(new Endpoint("127.0.0.1", upstream.getLocalPort())));
            try (Socket s = connect(port)) {
                s.setSoTimeout(30_000);
                Thread writer = new Thread(() -> {
                    try {
                        s.getOutputStream().write(sent);
                        s.shutdownOutput();
                        written.complete(null);
                    } catch (IOException e) {
                        written.completeExceptionally(e);
                    }
                }, "client-writer");
                writer.setDaemon(true);
                writer.start();
                assertEquals(down, s.getInputStream().readAllBytes().length);
                // What the upstream read up to its end of stream: a reset there (an exception) fails the test too,
                // but a cut stream followed by a FIN is the worst outcome, so its size is what the message names.
                byte[] got = received.get(30, TimeUnit.SECONDS);
                assertEquals(up, got.length, transport + ": bytes the upstream received before a clean end of stream");
                assertArrayEquals(sent, got);
                written.get(30, TimeUnit.SECONDS);
            }
        }
    }

    /** Another listening server on the echo group, with its own handler; closed by the caller. */
    private Channel extraServer(ChannelHandler handler) throws InterruptedException {
        return new ServerBootstrap().group(echoGroup).channel(Transports.NIO.serverChannel())
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childHandler(handler)
                .bind("127.0.0.1", 0).sync().channel();
    }

    private static Endpoint endpointOf(Channel server) {
        return new Endpoint("127.0.0.1", ((InetSocketAddress) server.localAddress()).getPort());
    }

    @Test
    void connectionsTakeTheInstancesInTurn() throws Exception {
        Channel second = extraServer(new EchoHandler());
        try {
            Endpoint a = new Endpoint("127.0.0.1", echoPort());
            Endpoint b = endpointOf(second);
            int port = startRelay(List.of(a, b));
            for (int i = 1; i <= 4; i++) {
                try (Socket s = connect(port)) {
                    s.getOutputStream().write('x');
                    assertEquals('x', s.getInputStream().read());
                }
                int n = i;
                await("exchange " + n + " to be reported", () -> exchanges.size() == n);
            }
            List<Endpoint> picked = exchanges.stream().map(Exchange::instance).toList();
            assertEquals(List.of(a, b, a, b), picked, "round robin over the two instances");
            assertTrue(exchanges.stream().allMatch(e -> e.edge().equals("tcp") && e.attempts() == 1), exchanges::toString);
        } finally {
            second.close().syncUninterruptibly();
        }
    }

    /**
     * Retries happen at connect time only: once an upstream accepted the connection, bytes may have gone
     * to it, so an upstream that then hangs up ends the client's connection too, even with another
     * instance to try.
     */
    @Test
    void anUpstreamThatHangsUpAfterAcceptingIsNotRetried() throws Exception {
        AtomicInteger accepted = new AtomicInteger();
        Channel hangsUp = extraServer(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelActive(ChannelHandlerContext ctx) {
                accepted.incrementAndGet();
                ctx.close();
            }

            @Override
            public boolean isSharable() {
                return true;
            }
        });
        try {
            int port = startRelay(List.of(endpointOf(hangsUp), new Endpoint("127.0.0.1", echoPort())));
            try (Socket s = connect(port)) {
                s.getOutputStream().write('x');
                assertEquals(-1, s.getInputStream().read(), "the relay closes the client: no echo from the other instance");
            }
            await("the exchange to be reported", () -> exchanges.size() == 1);
            Exchange e = exchanges.peek();
            assertEquals(endpointOf(hangsUp), e.instance(), e.toString());
            assertEquals(1, e.attempts(), e.toString());
            assertEquals(1, accepted.get());
            assertEquals(0, echoAccepted.get(), "the echo instance was never connected to");
        } finally {
            hangsUp.close().syncUninterruptibly();
        }
    }

    @Test
    void retriesTheConnectOnAnotherInstanceWhenOneRefuses() throws Exception {
        Endpoint dead = new Endpoint("127.0.0.1", refusedPort());
        Endpoint live = new Endpoint("127.0.0.1", echoPort());
        int port = startRelay(List.of(dead, live));
        for (int i = 0; i < 2; i++) {
            try (Socket s = connect(port)) {
                s.getOutputStream().write('x');
                assertEquals('x', s.getInputStream().read());
            }
        }
        await("both exchanges to be reported", () -> exchanges.size() == 2);
        assertTrue(exchanges.stream().allMatch(e -> e.status() == 0 && live.equals(e.instance())), exchanges::toString);
        assertTrue(exchanges.stream().anyMatch(e -> e.attempts() == 2), exchanges::toString);
        assertEquals(exchanges.stream().mapToInt(e -> e.attempts() - 1).sum(), retries.get(), "each retry made is counted");
        assertTrue(sidecar.context().breakers().forInstance("svc", dead).consecutiveFailures() >= 1);
        // /clusters words it as for HTTP, not "java.net.ConnectException: io_uring connect(..) failed with error(-111): ..."
        String reason = sidecar.context().health().health("svc", dead).reason();
        assertTrue(reason.endsWith("(last: connection refused)"), reason);
        io.outrigger.resilience.RetryBudget budget = sidecar.context().retryBudget();
        await("the retry budget to be given back", () -> budget.retriesInFlight() == 0 && budget.liveRequests() == 0);
    }

    /**
     * When another event loop takes an instance's last half-open probe between that instance's pick and its
     * permit, the connection goes to another willing instance in the same attempt. It failed the attempt
     * before: closed at once with max_retries 0, else a retry and a backoff spent on nothing.
     */
    @Test
    void aProbeTakenBetweenPickAndPermitSendsTheConnectionElsewhere() throws Exception {
        Endpoint probed = new Endpoint("127.0.0.1", refusedPort());
        Endpoint live = new Endpoint("127.0.0.1", echoPort());
        io.outrigger.resilience.ProbeThief thief = new io.outrigger.resilience.ProbeThief();
        int port = startRelay(List.of(probed, live), ONE_LISTENER, 0, 2, 2000, "base_ms: 1, max_ms: 2", thief);
        io.outrigger.resilience.CircuitBreaker breaker = sidecar.context().breakers().forInstance("svc", probed);
        breaker.transitionTo(io.outrigger.resilience.CircuitBreaker.State.OPEN, "test");
        thief.clock().advanceMillis(60_000); // due a probe: the round robin (which starts at it) finds it willing
        thief.stealNextProbeOf(breaker);
        try (Socket s = connect(port)) {
            s.getOutputStream().write('x');
            assertEquals('x', s.getInputStream().read());
        }
        assertEquals(1, thief.stolen(), "the probe was taken between the pick and the permit");
        await("the exchange to be reported", () -> exchanges.size() == 1);
        Exchange e = exchanges.peek();
        assertEquals(live, e.instance(), e::toString);
        assertEquals(1, e.attempts(), e::toString);
        assertEquals(0, retries.get());
    }

    @Test
    void connectRetriesComeOutOfTheSharedRetryBudget() throws Exception {
        Endpoint dead = new Endpoint("127.0.0.1", refusedPort());
        int port = startRelay(List.of(dead), ONE_LISTENER, 2);
        io.outrigger.resilience.RetryBudget budget = sidecar.context().retryBudget();
        int held = 0;
        while (budget.tryAcquireRetry()) {
            held++; // other traffic's retries fill the budget
        }
        try (Socket s = connect(port)) {
            assertEquals(-1, s.getInputStream().read(), "the client connection is closed");
        }
        await("the exchange to be reported", () -> exchanges.size() == 1);
        assertEquals(new Exchange("tcp", "svc", dead, 502, 1), exchanges.peek(), "one attempt: no retry fits in the budget");
        assertEquals(held, budget.retriesInFlight(), "the refused connection took nothing it did not give back");
        // (instanceBreakerOpensAfterTheThresholdAndThenFailsFast: the same refusal, budget free, takes 2 attempts)
        for (int i = 0; i < held; i++) {
            budget.releaseRetry();
        }
        await("the budget to be empty again", () -> budget.retriesInFlight() == 0 && budget.liveRequests() == 0);
    }

    /**
     * A retry is counted when it is made, as on the HTTP edges: one planned (waiting on its backoff) and then
     * cancelled because the client left is not counted.
     */
    @Test
    void aRetryPlannedButNotMadeIsNotCounted() throws Exception {
        Endpoint dead = new Endpoint("127.0.0.1", refusedPort());
        int port = startRelay(List.of(dead), ONE_LISTENER, 2, 100, 2000, "base_ms: 5000, max_ms: 5000, jitter: none");
        CircuitBreaker breaker = sidecar.context().breakers().forInstance("svc", dead);
        Socket s = connect(port);
        await("the first attempt to fail", () -> breaker.consecutiveFailures() == 1);
        sidecar.group().submit(() -> { }).sync(); // one event loop: the retry after that failure is planned now
        s.setSoLinger(true, 0);
        s.close(); // a reset while the retry waits on its backoff
        await("the exchange to be reported", () -> exchanges.size() == 1);
        assertEquals(new Exchange("tcp", "svc", dead, 499, 1), exchanges.peek());
        assertEquals(0, retries.get(), "a retry that was never made was counted");
    }

    /** The budget bounds connect retries in flight (at least 3): a lone connection has one at a time, so it gets all of max_retries. */
    @Test
    void aLoneConnectionGetsAllOfMaxRetries() throws Exception {
        Endpoint dead = new Endpoint("127.0.0.1", refusedPort());
        int port = startRelay(List.of(dead), ONE_LISTENER, 5, 100);
        try (Socket s = connect(port)) {
            assertEquals(-1, s.getInputStream().read(), "the client connection is closed");
        }
        await("the exchange to be reported", () -> exchanges.size() == 1);
        assertEquals(new Exchange("tcp", "svc", dead, 502, 6), exchanges.peek(), "one attempt and max_retries=5 retries");
        await("the budget to be empty again", () -> sidecar.context().retryBudget().retriesInFlight() == 0);
    }

    /**
     * A loopback listener that never accepts, its accept queue full: a connect to it gets no answer
     * and times out, as to a blackholed address. The sockets that fill it are added to {@code filling}.
     */
    private static ServerSocket blackhole(List<Socket> filling) throws IOException {
        ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        for (int i = 0; i < 16; i++) {
            Socket c = new Socket();
            filling.add(c);
            try {
                c.connect(s.getLocalSocketAddress(), 300);
            } catch (java.net.SocketTimeoutException full) {
                return s;
            }
        }
        s.close();
        throw new IllegalStateException("the accept queue never filled");
    }

    /** A client that resets while its connect attempt hangs ends the run: no retry is taken from the budget after it. */
    @Test
    void aClientLeavingDuringAConnectTakesNoRetryFromTheBudget() throws Exception {
        List<Socket> filling = new ArrayList<>();
        try (ServerSocket hole = blackhole(filling)) {
            Endpoint silent = new Endpoint("127.0.0.1", hole.getLocalPort());
            // connect_ms 1500: the reset must come while the attempt hangs. At 300 ms, a test thread stalled that long
            // on a loaded machine let the attempt time out first, and a retry was taken for a client still there.
            int port = startRelay(List.of(silent), ONE_LISTENER, 2, 100, 1500);
            io.outrigger.resilience.RetryBudget budget = sidecar.context().retryBudget();
            Socket s = connect(port);
            await("the connect attempt to start", () -> budget.liveRequests() == 1);
            s.setSoLinger(true, 0);
            s.close(); // a reset: the relay sees the client gone while the attempt hangs
            CircuitBreaker breaker = sidecar.context().breakers().forInstance("svc", silent);
            await("the hanging attempt to time out", () -> breaker.consecutiveFailures() == 1);
            sidecar.group().submit(() -> { }).sync(); // one event loop: what the time-out set off has run
            assertEquals(0, budget.liveRequests());
            assertEquals(0, budget.retriesInFlight(), "a retry was taken for a client that had left");
            assertEquals(1, breaker.consecutiveFailures(), "no further attempt");
        } finally {
            for (Socket c : filling) {
                c.close();
            }
        }
    }

    /**
     * A client that sends, then resets while its upstream connect hangs: the connect that completes after it left is
     * reset, not closed. A FIN told the upstream that an empty stream had arrived whole, where the client's bytes were
     * lost (the chaos run's upstreams saw thousands of such connections; connected directly, each read the bytes and
     * a reset).
     */
    @ParameterizedTest
    @EnumSource(Transports.class)
    void anUpstreamConnectedAfterItsClientResetIsResetToo(Transports picked) throws Exception {
        assumeTrue(picked.isAvailable(), picked + " is not available on this machine");
        transport = picked;
        List<Socket> filling = new ArrayList<>();
        try (ServerSocket hole = blackhole(filling)) {
            int port = startRelay(List.of(new Endpoint("127.0.0.1", hole.getLocalPort())), ONE_LISTENER, 0, 100, 20_000);
            io.outrigger.resilience.RetryBudget budget = sidecar.context().retryBudget();
            Socket s = connect(port);
            s.getOutputStream().write("xy".getBytes(StandardCharsets.US_ASCII));
            await("the connect attempt to start", () -> budget.liveRequests() == 1);
            s.setSoLinger(true, 0);
            s.close();
            await("the relay to see the client gone", () -> exchanges.size() == 1);
            assertEquals(499, exchanges.peek().status());
            // Room in the accept queue: the attempt's next SYN (a second or so later) connects.
            hole.setSoTimeout(20_000);
            List<Integer> fillers = new ArrayList<>();
            for (Socket c : filling) {
                fillers.add(c.getLocalPort());
            }
            while (true) {
                Socket c = hole.accept();
                filling.add(c);
                if (!fillers.contains(c.getPort())) {
                    c.setSoTimeout(20_000);
                    String end = readToEnd(c);
                    assertTrue(end.contains("reset"), picked + ": the upstream read " + end + ", not a reset");
                    break;
                }
            }
        } finally {
            for (Socket c : filling) {
                c.close();
            }
        }
    }

    /**
     * The service breaker's half-open probe, taken by a client that resets while its connect hangs, is given back. Per
     * transport: NIO watches a connection for nothing while no read is asked, so it sees the reset only if the connect
     * handler reads.
     */
    @ParameterizedTest
    @EnumSource(Transports.class)
    void aProbingClientLeavingDuringAConnectGivesTheProbeBack(Transports picked) throws Exception {
        assumeTrue(picked.isAvailable(), picked + " is not available on this machine");
        transport = picked;
        List<Socket> filling = new ArrayList<>();
        try (ServerSocket hole = blackhole(filling)) {
            int port = startRelay(List.of(new Endpoint("127.0.0.1", hole.getLocalPort())), ONE_LISTENER, 2, 100, 300);
            CircuitBreaker service = sidecar.context().breakers().forService("svc");
            service.transitionTo(CircuitBreaker.State.HALF_OPEN, "test");
            Socket s = connect(port);
            await("the client to take the probe", () -> service.snapshot().probesLeft() == 0);
            s.setSoLinger(true, 0);
            s.close();
            await("the probe to be given back", () -> service.snapshot().probesLeft() == 1);
            assertEquals(CircuitBreaker.State.HALF_OPEN, service.state());
            await("the connection to be reported", () -> exchanges.size() == 1);
            assertEquals(new Exchange("tcp", "svc", new Endpoint("127.0.0.1", hole.getLocalPort()), 499, 1), exchanges.peek(),
                    "a client that left while connecting is counted, as the HTTP edges count a client that closed");
        } finally {
            for (Socket c : filling) {
                c.close();
            }
        }
    }

    /**
     * A client turned away because no instance could be tried (every instance breaker open) while it held
     * the service breaker's half-open probe gave the service no verdict: the probe goes back, or the next client, once an
     * instance can take it, would be refused for up to another {@code open_ms}.
     */
    @Test
    void aClientWithNoInstanceToTryGivesTheServiceProbeBack() throws Exception {
        Endpoint live = new Endpoint("127.0.0.1", echoPort());
        int port = startRelay(List.of(live), ONE_LISTENER, 2, 100);
        CircuitBreaker service = sidecar.context().breakers().forService("svc");
        CircuitBreaker instance = sidecar.context().breakers().forInstance("svc", live);
        instance.transitionTo(CircuitBreaker.State.OPEN, "test");
        service.transitionTo(CircuitBreaker.State.HALF_OPEN, "test");
        try (Socket s = connect(port)) {
            assertEquals(-1, s.getInputStream().read(), "no instance to try: the client connection is closed");
        }
        await("the exchange to be reported", () -> exchanges.size() == 1);
        assertEquals(new Exchange("tcp", "svc", null, 503, 0), exchanges.peek());
        assertEquals(1, service.snapshot().probesLeft(), "the probe is given back");

        instance.transitionTo(CircuitBreaker.State.CLOSED, "test"); // the instance can take calls again
        try (Socket s = connect(port)) {
            s.getOutputStream().write('x');
            assertEquals('x', s.getInputStream().read(), "the next client probes at once");
        }
        assertEquals(CircuitBreaker.State.CLOSED, service.state());
    }

    @Test
    void instanceBreakerOpensAfterTheThresholdAndThenFailsFast() throws Exception {
        Endpoint dead = new Endpoint("127.0.0.1", refusedPort());
        int port = startRelay(List.of(dead), ONE_LISTENER, 2);
        for (int i = 0; i < 2; i++) {
            try (Socket s = connect(port)) {
                assertEquals(-1, s.getInputStream().read(), "the client connection is closed");
            }
        }
        await("two exchanges to be reported", () -> exchanges.size() == 2);
        assertEquals(CircuitBreaker.State.OPEN, sidecar.context().breakers().forInstance("svc", dead).state());
        Exchange[] seen = exchanges.toArray(new Exchange[0]);
        // The first connection opens the instance breaker at its second refused attempt, after
        // which no instance is left to try; the next is turned away without a connect attempt.
        assertEquals(new Exchange("tcp", "svc", dead, 502, 2), seen[0], Arrays.toString(seen));
        assertEquals(new Exchange("tcp", "svc", null, 503, 0), seen[1], Arrays.toString(seen));
        // The second found every instance's breaker refusing: a failure of the service, as on the HTTP edges
        // (the first's was the other), so the service's breaker (threshold 2) opened.
        assertEquals(CircuitBreaker.State.OPEN, sidecar.context().breakers().forService("svc").state());
    }

    @Test
    void serviceBreakerOpensAfterThresholdFailedConnectionsAndThenFailsFast() throws Exception {
        Endpoint dead1 = new Endpoint("127.0.0.1", refusedPort());
        Endpoint dead2 = new Endpoint("127.0.0.1", refusedPort());
        int port = startRelay(List.of(dead1, dead2), ONE_LISTENER, 0);
        for (int i = 0; i < 3; i++) {
            try (Socket s = connect(port)) {
                assertEquals(-1, s.getInputStream().read(), "the client connection is closed");
            }
            int n = i + 1;
            await("exchange " + n + " to be reported", () -> exchanges.size() == n);
        }
        assertEquals(CircuitBreaker.State.OPEN, sidecar.context().breakers().forService("svc").state());
        List<Integer> statuses = exchanges.stream().map(Exchange::status).toList();
        assertEquals(List.of(502, 502, 503), statuses, exchanges::toString);
        // One refusal each: neither instance breaker reached its threshold; the service breaker did.
        assertEquals(CircuitBreaker.State.CLOSED, sidecar.context().breakers().forInstance("svc", dead1).state());
        assertEquals(0, exchanges.stream().skip(2).findFirst().orElseThrow().attempts());
    }

    /**
     * The idle timeout is 1 s: at 200 ms, a loaded 2-core machine sometimes took longer than that for the first echo
     * (connect to the instance, the byte there and back), and the relay closed the connection the test then read from.
     */
    @Test
    void idleTimeoutClosesBothSides() throws Exception {
        int port = startRelay(List.of(new Endpoint("127.0.0.1", echoPort())),
                "listeners:\n  tcp: [ { port: 0, service: svc, idle_timeout_ms: 1000 } ]\n", 2);
        try (Socket s = connect(port)) {
            long start = System.nanoTime(); // before the relay's last activity (the echo), however late this thread runs
            s.getOutputStream().write('x');
            assertEquals('x', s.getInputStream().read());
            await("the upstream connection to open", () -> echoChildren.size() == 1);
            assertEquals(-1, s.getInputStream().read(), "the relay closes the idle client");
            assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(500), "closed too early");
        }
        await("the upstream connection to close", () -> echoChildren.isEmpty());
    }

    /**
     * A client that stops reading while the instance's answer is still coming: at the idle timeout the relay holds
     * bytes it could not send the client. Closed with a FIN, the client would read the part that got through and a
     * clean end, a cut stream that looks whole; it reads a reset instead.
     */
    @Test
    void anIdleClientWithBytesUnsentIsResetNotClosed() throws Exception {
        int port = startRelay(List.of(new Endpoint("127.0.0.1", echoPort())),
                "listeners:\n  tcp: [ { port: 0, service: svc, idle_timeout_ms: 500 } ]\n", 2);
        try (Socket s = connect(port)) {
            s.setReceiveBufferSize(16 * 1024);
            Thread writer = new Thread(() -> {
                try {
                    s.getOutputStream().write(new byte[16 << 20]); // echoed back to a client that does not read yet
                } catch (IOException e) {
                    // the relay gave up on the connection
                }
            }, "stalled-client-writer");
            writer.setDaemon(true);
            writer.start();
            await("the upstream connection to open", () -> echoChildren.size() == 1);
            Await.until("the relay to close the idle client", Duration.ofSeconds(10),
                    () -> sidecar.connections().openConnections() == 0);
            InputStream in = s.getInputStream();
            byte[] buf = new byte[64 * 1024];
            long read = 0;
            IOException reset = null;
            try {
                for (int n; (n = in.read(buf)) > 0; ) {
                    read += n;
                }
            } catch (IOException e) {
                reset = e;
            }
            assertTrue(reset != null, "a clean end of stream after " + read + " of " + (16 << 20) + " bytes");
        }
    }

    @Test
    void clientGoneMidStreamReleasesTheUpstream() throws Exception {
        int port = startRelay(List.of(new Endpoint("127.0.0.1", echoPort())));
        Socket s = connect(port);
        s.getOutputStream().write("abc".getBytes(StandardCharsets.US_ASCII));
        readN(s.getInputStream(), 3);
        await("the upstream connection to open", () -> echoChildren.size() == 1);
        s.setSoLinger(true, 0); // close with a reset, as a crashed client would
        s.close();
        await("the upstream connection to close", () -> echoChildren.isEmpty());
        await("the exchange to be reported", () -> exchanges.size() == 1);
    }

    /** How a raw socket's reading ends: "eof" (a clean end of stream) or the exception's text (a reset reads as one). */
    private static String readToEnd(Socket s) {
        try {
            InputStream in = s.getInputStream();
            while (in.read() >= 0) {
                // what came before the end is not what is asserted
            }
            return "eof";
        } catch (IOException e) {
            return e.toString();
        }
    }

    /**
     * An upstream that resets its connection mid-answer: the client reads a reset too, not a clean end of
     * stream that would make the cut answer look complete (the transport reports a reset as an end of input).
     */
    @Test
    void anUpstreamResetReachesTheClientAsAReset() throws Exception {
        try (ServerSocket upstream = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Void> served = CompletableFuture.runAsync(() -> {
                try (Socket c = upstream.accept()) {
                    c.getInputStream().read();
                    c.getOutputStream().write("half an ans".getBytes(StandardCharsets.US_ASCII));
                    c.setSoLinger(true, 0);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            int port = startRelay(List.of(new Endpoint("127.0.0.1", upstream.getLocalPort())));
            try (Socket s = connect(port)) {
                s.getOutputStream().write('x');
                String end = readToEnd(s);
                assertTrue(end.contains("reset"), "the client read " + end + ", not a reset");
            }
            served.get(5, TimeUnit.SECONDS);
        }
    }

    /** A client that resets its connection: the upstream reads a reset too, not a clean end of the client's stream. */
    @Test
    void aClientResetReachesTheUpstreamAsAReset() throws Exception {
        try (ServerSocket upstream = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Void> firstByte = new CompletableFuture<>();
            CompletableFuture<String> upstreamEnd = readsToEnd(upstream, firstByte);
            int port = startRelay(List.of(new Endpoint("127.0.0.1", upstream.getLocalPort())));
            Socket s = connect(port);
            s.getOutputStream().write("xy".getBytes(StandardCharsets.US_ASCII));
            firstByte.get(5, TimeUnit.SECONDS); // relaying: the reset comes after the connect
            s.setSoLinger(true, 0);
            s.close();
            String end = upstreamEnd.get(5, TimeUnit.SECONDS);
            assertTrue(end.contains("reset"), "the upstream read " + end + ", not a reset");
        }
    }

    /** Accepts one connection on {@code upstream}, completes {@code firstByte} at its first byte, and reads it to its end ({@link #readToEnd}). */
    private static CompletableFuture<String> readsToEnd(ServerSocket upstream, CompletableFuture<Void> firstByte) {
        return CompletableFuture.supplyAsync(() -> {
            try (Socket c = upstream.accept()) {
                c.setSoTimeout(5000);
                c.getInputStream().read();
                firstByte.complete(null);
                return readToEnd(c);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /**
     * A live relay the sidecar cuts when it closes (the drain deadline) is reset on both sides: a FIN
     * would tell each that the other's stream ended whole.
     */
    @Test
    void aRelayCutByTheSidecarClosingIsResetOnBothSides() throws Exception {
        try (ServerSocket upstream = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Void> firstByte = new CompletableFuture<>();
            CompletableFuture<String> upstreamEnd = readsToEnd(upstream, firstByte);
            int port = startRelay(List.of(new Endpoint("127.0.0.1", upstream.getLocalPort())));
            try (Socket s = connect(port)) {
                s.getOutputStream().write("xy".getBytes(StandardCharsets.US_ASCII));
                firstByte.get(5, TimeUnit.SECONDS);
                sidecar.close();
                String end = readToEnd(s);
                assertTrue(end.contains("reset"), "the client read " + end + ", not a reset");
            }
            String end = upstreamEnd.get(5, TimeUnit.SECONDS);
            assertTrue(end.contains("reset"), "the upstream read " + end + ", not a reset");
        }
    }

    /**
     * Holds every event loop of the sidecar until {@code release} counts down, so that what the sockets receive
     * meanwhile is handled in one turn, in the order it arrived (a test's way to line events up; the loops' own
     * code never blocks). Returns once every loop is held.
     */
    private void holdEventLoops(CountDownLatch release) throws InterruptedException {
        List<io.netty.util.concurrent.EventExecutor> loops = new ArrayList<>();
        sidecar.group().forEach(loops::add);
        CountDownLatch held = new CountDownLatch(loops.size());
        for (io.netty.util.concurrent.EventExecutor loop : loops) {
            loop.execute(() -> {
                held.countDown();
                try {
                    release.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }
        assertTrue(held.await(5, TimeUnit.SECONDS), "the event loops were not held");
    }

    /**
     * The client half-closes, then the upstream resets before sending its FIN: the upstream's stream to the client is
     * cut, so the client must read a reset. The relay handles the client's FIN first and shuts the upstream's output,
     * which fails on the reset connection (ENOTCONN); the relay then closed the upstream side as if it had ended, and
     * passed a FIN to the client: a cut stream read as whole. Both arrive while the event loop is held, so the relay
     * sees them in one turn, the FIN first (in a chaos run the reset came in between the client's FIN and its handling).
     */
    @ParameterizedTest
    @EnumSource(Transports.class)
    void anUpstreamResettingAfterTheClientHalfClosedResetsTheClient(Transports picked) throws Exception {
        assumeTrue(picked.isAvailable(), picked + " is not available here");
        assumeTrue(Files.isReadable(Path.of("/proc/net/tcp")), "needs /proc/net/tcp");
        transport = picked;
        try (ServerSocket upstream = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            int port = startRelay(List.of(new Endpoint("127.0.0.1", upstream.getLocalPort())));
            try (Socket s = connect(port); Socket c = upstream.accept()) {
                s.getOutputStream().write('x');
                c.setSoTimeout(5000);
                assertEquals('x', c.getInputStream().read()); // relaying
                int relaysUpstreamPort = c.getPort();
                CountDownLatch release = new CountDownLatch(1);
                holdEventLoops(release);
                try {
                    s.shutdownOutput();
                    await("the relay's client socket to take the FIN", () -> "08".equals(tcpState(port, s.getLocalPort())));
                    c.setSoLinger(true, 0);
                    c.close();
                    await("the relay's upstream socket to take the reset",
                            () -> tcpState(relaysUpstreamPort, upstream.getLocalPort()) == null);
                } finally {
                    release.countDown();
                }
                String end = readToEnd(s);
                assertTrue(end.contains("reset"), picked + ": the client read " + end + ", not a reset");
            }
        }
    }

    /** The mirror image: the upstream half-closes, then the client resets; the upstream must read a reset. */
    @ParameterizedTest
    @EnumSource(Transports.class)
    void aClientResettingAfterTheUpstreamHalfClosedResetsTheUpstream(Transports picked) throws Exception {
        assumeTrue(picked.isAvailable(), picked + " is not available here");
        assumeTrue(Files.isReadable(Path.of("/proc/net/tcp")), "needs /proc/net/tcp");
        transport = picked;
        try (ServerSocket upstream = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            int port = startRelay(List.of(new Endpoint("127.0.0.1", upstream.getLocalPort())));
            try (Socket s = connect(port); Socket c = upstream.accept()) {
                s.getOutputStream().write('x');
                c.setSoTimeout(5000);
                assertEquals('x', c.getInputStream().read()); // relaying
                int relaysUpstreamPort = c.getPort();
                int clientPort = s.getLocalPort();
                CountDownLatch release = new CountDownLatch(1);
                holdEventLoops(release);
                try {
                    c.shutdownOutput();
                    await("the relay's upstream socket to take the FIN",
                            () -> "08".equals(tcpState(relaysUpstreamPort, upstream.getLocalPort())));
                    s.setSoLinger(true, 0);
                    s.close();
                    await("the relay's client socket to take the reset", () -> tcpState(port, clientPort) == null);
                } finally {
                    release.countDown();
                }
                String end = readToEnd(c);
                assertTrue(end.contains("reset"), picked + ": the upstream read " + end + ", not a reset");
            }
        }
    }

    private static byte answerByte(long i) {
        return (byte) (i * 31 + (i >>> 13));
    }

    /**
     * The TCP state of the loopback connection from {@code localPort} to {@code remotePort} as Linux lists it in
     * /proc/net/tcp and tcp6 (hex: "05" is FIN_WAIT2, its FIN acknowledged), or null when it is not listed.
     */
    private static String tcpState(int localPort, int remotePort) {
        String local = String.format(":%04X", localPort);
        String remote = String.format(":%04X", remotePort);
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            try {
                for (String line : Files.readAllLines(Path.of(table))) {
                    String[] f = line.trim().split("\\s+");
                    if (f.length > 3 && f[1].endsWith(local) && f[2].endsWith(remote)) {
                        return f[3];
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return null;
    }

    /**
     * An upstream sends a long answer and its FIN, then closes while the client is still streaming to it: its close
     * with the client's bytes unread resets the connection, and the relay's next write to it fails. The client, reading
     * slowly (the relay's backpressure leaves most of the answer in socket buffers), reads the whole answer or a prefix
     * and a reset, never a prefix and a clean end of stream. Twice with the upstream closing at once (the kernel drops
     * the part of its answer it had not sent yet), twice once its FIN was acknowledged (the relay's socket holds the
     * rest of the answer and the FIN). The client stops writing before the upstream closes: a write blocked when the
     * reset arrives takes the reset's error (Linux reports it once), and a read then returns a clean end of stream
     * after the prefix, which a chaos run once took for a FIN from the relay.
     */
    @ParameterizedTest
    @EnumSource(Transports.class)
    void anUpstreamClosingAfterItsAnswerWhileTheClientStreamsEndsTheAnswerWholeOrWithAReset(Transports picked) throws Exception {
        assumeTrue(picked.isAvailable(), picked + " is not available here");
        transport = picked;
        int answer = 4 << 20;
        byte[] body = new byte[answer];
        for (int i = 0; i < answer; i++) {
            body[i] = answerByte(i);
        }
        boolean procNet = Files.isReadable(Path.of("/proc/net/tcp"));
        List<Boolean> waitsForItsFinAcked = procNet ? List.of(false, false, true, true) : List.of(false, false);
        StringBuilder outcomes = new StringBuilder();
        try (ServerSocket upstream = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            int port = startRelay(List.of(new Endpoint("127.0.0.1", upstream.getLocalPort())));
            for (boolean finAcked : waitsForItsFinAcked) {
                CountDownLatch closing = new CountDownLatch(1);
                CountDownLatch stopped = new CountDownLatch(1);
                CompletableFuture<Void> served = CompletableFuture.runAsync(() -> {
                    try (Socket c = upstream.accept()) {
                        c.getInputStream().read(); // the client streams; the rest of what it sends stays unread
                        c.getOutputStream().write(body);
                        c.shutdownOutput();
                        if (finAcked) {
                            Await.until("the relay to acknowledge the answer and its FIN", Duration.ofSeconds(30),
                                    () -> "05".equals(tcpState(c.getLocalPort(), c.getPort())));
                        }
                        closing.countDown();
                        assertTrue(stopped.await(5, TimeUnit.SECONDS), "the client went on writing");
                    } catch (IOException | InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                });
                long read = 0;
                String end;
                try (SocketChannel ch = SocketChannel.open();
                     Selector readable = Selector.open();
                     Selector writable = Selector.open()) {
                    ch.setOption(StandardSocketOptions.SO_RCVBUF, 32 * 1024);
                    ch.connect(new InetSocketAddress("127.0.0.1", port));
                    ch.configureBlocking(false);
                    ch.register(readable, SelectionKey.OP_READ);
                    ch.register(writable, SelectionKey.OP_WRITE);
                    Thread writer = new Thread(() -> {
                        ByteBuffer out = ByteBuffer.allocate(8192);
                        try {
                            while (closing.getCount() > 0) {
                                out.clear();
                                if (ch.write(out) == 0) {
                                    writable.select(10);
                                    writable.selectedKeys().clear();
                                }
                            }
                        } catch (IOException e) {
                            // the relay ended the connection before the upstream closed it: the read below tells how
                        } finally {
                            stopped.countDown();
                        }
                    }, "streaming-client");
                    writer.setDaemon(true);
                    writer.start();
                    ByteBuffer in = ByteBuffer.allocate(16 * 1024);
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                    while (true) {
                        assertTrue(System.nanoTime() < deadline, "no end of the answer after " + read + " bytes");
                        readable.select(1000);
                        readable.selectedKeys().clear();
                        in.clear();
                        int n;
                        try {
                            n = ch.read(in);
                        } catch (IOException e) {
                            end = e.toString();
                            break;
                        }
                        if (n < 0) {
                            end = "eof";
                            break;
                        }
                        for (int i = 0; i < n; i++) {
                            assertEquals(answerByte(read + i), in.get(i), "byte " + (read + i) + " of the answer");
                        }
                        read += n;
                        TimeUnit.MICROSECONDS.sleep(200); // a slow reader: throttles, synchronises nothing
                    }
                    writer.join(5000);
                }
                served.get(10, TimeUnit.SECONDS);
                outcomes.append(finAcked ? "FIN acknowledged first: " : "closed at once: ")
                        .append(read).append(" of ").append(answer).append(" bytes, then ").append(end).append('\n');
                assertTrue(read == answer || end.contains("reset"), "a cut answer ended cleanly:\n" + outcomes);
            }
        }
    }
}

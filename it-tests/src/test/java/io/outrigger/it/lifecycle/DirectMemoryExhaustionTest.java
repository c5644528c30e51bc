package io.outrigger.it.lifecycle;

import io.outrigger.it.harness.FreePorts;
import io.outrigger.it.harness.ManagedProcess;
import io.outrigger.it.harness.Poller;
import io.outrigger.it.harness.ProjectLayout;
import io.outrigger.registry.fake.Behaviour;
import io.outrigger.registry.fake.FakeService;
import io.outrigger.testing.Closer;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.outrigger.it.harness.RawHttp1.closeAll;
import static io.outrigger.it.harness.RawHttp1.status;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A sidecar out of direct memory ({@code -XX:MaxDirectMemorySize=8m}, then many uploads to an
 * instance that reads none of them): its event loops survive (they died with the error, and the
 * sidecar stayed up serving nothing), it says so in a few WARN lines without stack traces, and a
 * normal request succeeds once the flood is gone.
 */
@EnabledOnOs(OS.LINUX)
class DirectMemoryExhaustionTest {
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final int UPLOADS = 200;
    @AutoClose
    private final Closer open = new Closer();

    @Test
    void theEventLoopsSurviveAndServeAgainOnceTheFloodIsGone() throws Exception {
        ProjectLayout layout = ProjectLayout.current();
        layout.requireJars();
        FakeService service = FakeService.start(FakeService.Settings.local("service-b"), new Behaviour(0, 0));
        open.add(service::close);
        ServerSocket stuck = stuckInstance();

        int admin = FreePorts.next();
        int outbound = FreePorts.next();
        ManagedProcess sidecar = startSidecar(layout, "direct-memory", admin, outbound, "service-b", service.port(), stuck,
                "resilience: { retry: { max_retries: 0 } }\n", List.of());

        // Netty counts the direct memory it allocates itself (the JDK's jvm_buffer_memory_used_bytes does not see it).
        assertEquals(200, status(outbound, "GET /before HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n", Duration.ofSeconds(5)));
        String metrics = answerOrNothing(admin, "GET /metrics HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n");
        java.util.regex.Matcher used = java.util.regex.Pattern.compile("(?m)^outrigger_direct_memory_used_bytes\\{[^}]*\\} (\\S+)$").matcher(metrics);
        assertTrue(used.find() && Double.parseDouble(used.group(1)) > 0, "Netty's direct memory in use: "
                + metrics.lines().filter(l -> l.contains("direct")).toList());
        assertTrue(metrics.contains("outrigger_direct_memory_max_bytes{sidecar=\"direct-memory\"} 8388608.0"),
                metrics.lines().filter(l -> l.contains("direct_memory_max")).toList().toString());

        ByteBuffer chunk = ByteBuffer.allocate(64 * 1024);
        List<SocketChannel> uploads = floodUntilOutOfMemory(outbound, sidecar, chunk);

        // While the flood goes on, the sidecar answers at once: a buffer it cannot have fails at once, and
        // the connection that wanted it closes (a 502 that says so when it was the instance's). Through the
        // JDK's buffers every refusal put an event loop to sleep in Bits.reserveMemory, and requests to the
        // healthy service waited for many seconds.
        int served = 0;
        for (int i = 0; i < PROBES; i++) {
            long start = System.nanoTime();
            String answer = answerOrNothing(outbound, "GET /during HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n");
            long millis = (System.nanoTime() - start) / 1_000_000;
            boolean clean = answer.startsWith("HTTP/1.1 200 ")
                    || answer.startsWith("HTTP/1.1 502 ") && answer.contains("the sidecar ran out of memory");
            assertTrue(clean && millis < 2_000, "request " + i + " during the flood, after " + millis + " ms: " + answer);
            served += answer.startsWith("HTTP/1.1 200 ") ? 1 : 0;
            pump(uploads, chunk);
        }
        assertTrue(served > 0, "no request served during the flood");

        // The flood ends: the callers go away and the instance drops the uploads it never read.
        closeAll(uploads);
        closeAll(held);
        Poller.awaitTrue("a normal request served again", WAIT, Duration.ofMillis(200),
                () -> status(outbound, "GET /after HTTP/1.1\r\nHost: service-b\r\nConnection: close\r\n\r\n", Duration.ofSeconds(3)) == 200);

        String log = log(sidecar);
        assertFalse(log.contains("Unexpected exception from an event executor"), "an event loop died:\n" + sidecar.logTail(20));
        long warnings = log.lines().filter(l -> l.contains("event loop out of memory")).count();
        assertTrue(warnings >= 1 && warnings <= 60, warnings + " lines about the memory (about one a second per loop expected)");
        assertTrue(sidecar.isAlive());
    }

    /**
     * An instance whose answers the sidecar cannot read for want of direct memory is not blamed for it:
     * on epoll, such a read fails with an OutOfMemoryError on the instance's connection, and that
     * counted as a reset against the instance's and the service's breakers (here at one failure), so a
     * healthy instance was refused with 503 for open_ms after the flood. The shortage is the sidecar's.
     */
    @Test
    void anInstanceWhoseAnswerItCannotReadForWantOfMemoryIsNotBlamed() throws Exception {
        ProjectLayout layout = ProjectLayout.current();
        layout.requireJars();
        ServerSocket stuck = stuckInstance();
        // A healthy instance that holds its answers (256 KiB each) until told, so they come while memory is short.
        java.util.concurrent.CountDownLatch answer = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.atomic.AtomicInteger received = new java.util.concurrent.atomic.AtomicInteger();
        ServerSocket good = new ServerSocket(0, 100, java.net.InetAddress.getByName("127.0.0.1"));
        open.add(good::close);
        List<Socket> goodConnections = new CopyOnWriteArrayList<>();
        open.add(() -> closeAll(goodConnections));
        Thread goodAcceptor = new Thread(() -> {
            try {
                while (true) {
                    Socket c = good.accept();
                    goodConnections.add(c);
                    Thread t = new Thread(() -> serveHeld(c, received, answer), "good-instance");
                    t.setDaemon(true);
                    t.start();
                }
            } catch (IOException closed) {
                // the test is over
            }
        }, "good-instance-acceptor");
        goodAcceptor.setDaemon(true);
        goodAcceptor.start();

        int outbound = FreePorts.next();
        // epoll: a read buffer it cannot allocate fails the connection's read, with no help from the sidecar
        // (on io_uring, ReadBufferShortage closes the connection with the same cause).
        ManagedProcess sidecar = startSidecar(layout, "direct-memory-blame", FreePorts.next(), outbound, "good", good.getLocalPort(), stuck,
                "health: { interval_ms: 600000 }\n"
                // A request deadline the test cannot reach: a timeout would be a verdict of its own.
                + "resilience: { breaker: { failure_threshold: 1, open_ms: 60000 }, retry: { max_retries: 0 }, timeouts: { request_ms: 300000 } }\n",
                // The JDK's buffers, which refuse slowly: the instance's answers come while memory is short
                // (with Netty's own, refused at once, the flood's connections close first and free it).
                List.of("-Doutrigger.transport=epoll", "-Dio.netty.tryReflectionSetAccessible=false",
                        "-Dorg.slf4j.simpleLogger.log.io.outrigger.upstream.UpstreamHandler=debug",
                        "-Dorg.slf4j.simpleLogger.log.io.outrigger.http.HttpProxyHandler=debug"));

        List<Socket> callers = new CopyOnWriteArrayList<>();
        open.add(() -> closeAll(callers));
        List<Integer> statuses = new CopyOnWriteArrayList<>();
        for (int i = 0; i < HELD; i++) {
            Socket c = new Socket("127.0.0.1", outbound);
            c.setSoTimeout((int) WAIT.toMillis());
            callers.add(c);
            Thread t = new Thread(() -> {
                int st;
                try {
                    st = io.outrigger.it.harness.RawHttp1.exchange(c, "GET /held HTTP/1.1\r\nHost: good\r\nConnection: close\r\n\r\n");
                } catch (IOException e) {
                    st = -1;
                }
                statuses.add(st);
            }, "caller");
            t.setDaemon(true);
            t.start();
        }
        Poller.awaitTrue("the held requests at the instance", WAIT, Duration.ofMillis(10), () -> received.get() == HELD);

        ByteBuffer chunk = ByteBuffer.allocate(64 * 1024);
        List<SocketChannel> uploads = floodUntilOutOfMemory(outbound, sidecar, chunk);
        answer.countDown();
        String goodPort = ":" + good.getLocalPort() + "] failed";
        Poller.awaitTrue("the held requests over", WAIT, Duration.ofMillis(10), () -> {
            pump(uploads, chunk);
            return statuses.size() == HELD;
        });
        closeAll(uploads);
        closeAll(held);
        String log = log(sidecar);
        List<String> lines = log.lines().toList();
        boolean readFailed = false;
        for (int i = 0; i + 1 < lines.size(); i++) {
            readFailed |= lines.get(i).contains(goodPort) && lines.get(i + 1).contains("OutOfMemoryError");
        }
        assertTrue(readFailed, "no read of the instance's answers ran out of memory (statuses " + statuses + "):\n" + sidecar.logTail(20));
        assertFalse(log.contains("breaker good"), "the instance was blamed:\n" + log.lines().filter(l -> l.contains("breaker good")).toList());
        Poller.awaitTrue("a normal request to the instance served", WAIT, Duration.ofMillis(200),
                () -> status(outbound, "GET /health HTTP/1.1\r\nHost: good\r\nConnection: close\r\n\r\n", Duration.ofSeconds(3)) == 200);
        assertTrue(sidecar.isAlive());
    }

    private static final int HELD = 16;
    private static final int PROBES = 20;

    /** The answer to one request on a new connection, or what it got before 5 s passed or the connection closed. */
    private static String answerOrNothing(int port, String request) {
        try {
            return io.outrigger.it.harness.RawHttp1.answer(port, request, Duration.ofSeconds(5));
        } catch (IOException e) {
            return "no answer: " + e;
        }
    }

    /** Whether the log says a direct buffer was refused: Netty's own count ({@code of direct memory}) or the JDK's. */
    private static boolean outOfDirectMemory(String log) {
        return log.contains("of direct memory") || log.contains("direct buffer memory");
    }
    private final List<Socket> held = new CopyOnWriteArrayList<>();

    /**
     * A sidecar with 8 MiB of direct memory, its admin and outbound listeners on {@code admin} and {@code outbound}, routing {@code service} to
     * {@code port} and {@code stuck} to the never-reading instance; stopped at the end of the test.
     */
    private ManagedProcess startSidecar(ProjectLayout layout, String name, int admin, int outbound, String service, int port,
                                        ServerSocket stuck, String yaml, List<String> jvmOptions) throws Exception {
        Path dir = layout.logDir().resolve(name);
        Files.createDirectories(dir);
        Path registry = Files.writeString(dir.resolve("registry.json"),
                "{\"services\": {\"" + service + "\": [{\"host\": \"127.0.0.1\", \"port\": " + port + "}], "
                + "\"stuck\": [{\"host\": \"127.0.0.1\", \"port\": " + stuck.getLocalPort() + "}]}}");
        Path config = Files.writeString(dir.resolve("sidecar.yaml"), "name: " + name + "\nservice: service-a\n"
                + "registry: file:" + registry + "\ndrain_ms: 500\nhttp: { access_log: false }\n" + yaml
                + "listeners:\n  admin: { port: " + admin + " }\n  outbound: { port: " + outbound + " }\n");
        List<String> options = new ArrayList<>(List.of("-XX:MaxDirectMemorySize=8m"));
        options.addAll(jvmOptions);
        ManagedProcess sidecar = ManagedProcess.startSidecar(name, layout.proxyJar(), options, config, admin, dir, WAIT);
        open.add(sidecar::kill);
        return sidecar;
    }

    /** An instance that accepts and never reads: every upload to it backs up into the sidecar. */
    private ServerSocket stuckInstance() throws IOException {
        ServerSocket stuck = new ServerSocket();
        stuck.setReceiveBufferSize(4096);
        stuck.bind(new InetSocketAddress("127.0.0.1", 0));
        open.add(() -> closeAll(held));
        open.add(stuck::close);
        Thread acceptor = new Thread(() -> {
            try {
                while (true) {
                    held.add(stuck.accept());
                }
            } catch (IOException closed) {
                // the test is over
            }
        }, "stuck-instance");
        acceptor.setDaemon(true);
        acceptor.start();
        return stuck;
    }

    /** Reads requests on {@code c}; answers /health at once, the others with 256 KiB once {@code answer} opens. */
    private static void serveHeld(Socket c, java.util.concurrent.atomic.AtomicInteger received, java.util.concurrent.CountDownLatch answer) {
        try (c) {
            java.io.InputStream in = c.getInputStream();
            while (true) {
                StringBuilder head = new StringBuilder();
                while (!head.toString().endsWith("\r\n\r\n")) {
                    int b = in.read();
                    if (b < 0) {
                        return;
                    }
                    head.append((char) b);
                }
                if (!head.toString().startsWith("GET /health ")) {
                    received.incrementAndGet();
                    answer.await();
                }
                int length = 256 * 1024;
                c.getOutputStream().write(("HTTP/1.1 200 OK\r\nContent-Length: " + length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
                c.getOutputStream().write(new byte[length]);
                c.getOutputStream().flush();
            }
        } catch (IOException | InterruptedException gone) {
            // the sidecar dropped the connection, or the test is over
        }
    }

    private static List<SocketChannel> openUploads(int outbound, String service) throws IOException {
        List<SocketChannel> uploads = new ArrayList<>();
        for (int i = 0; i < UPLOADS; i++) {
            SocketChannel c = SocketChannel.open(new InetSocketAddress("127.0.0.1", outbound));
            c.write(ByteBuffer.wrap(("POST /upload HTTP/1.1\r\nHost: " + service + "\r\nContent-Length: 1000000000\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1)));
            c.configureBlocking(false);
            uploads.add(c);
        }
        return uploads;
    }

    /** Uploads to the never-reading instance, pumped until the sidecar logs that it is out of direct memory; closed at the end. */
    private List<SocketChannel> floodUntilOutOfMemory(int outbound, ManagedProcess sidecar, ByteBuffer chunk) throws Exception {
        List<SocketChannel> uploads = openUploads(outbound, "stuck");
        open.add(() -> closeAll(uploads));
        try {
            Poller.awaitTrue("the sidecar out of direct memory", WAIT, Duration.ofMillis(10), () -> {
                pump(uploads, chunk);
                return outOfDirectMemory(log(sidecar));
            });
        } catch (Poller.ConditionTimeoutException e) {
            // The sidecar's log says why (a native crash showed only as this timeout once): its tail goes with the failure.
            throw new AssertionError(e.getMessage() + "; alive: " + sidecar.isAlive() + "; the sidecar's log ends:\n" + sidecar.logTail(30), e);
        }
        return uploads;
    }

    /** Sends each upload what its socket takes now. */
    private static void pump(List<SocketChannel> uploads, ByteBuffer chunk) {
        for (SocketChannel c : uploads) {
            chunk.clear();
            while (c.isOpen() && write(c, chunk) > 0) {
                chunk.clear();
            }
        }
    }

    /** Writes what the socket takes now; 0 when it takes nothing, -1 once the sidecar dropped it. */
    private static int write(SocketChannel c, ByteBuffer chunk) {
        try {
            return c.write(chunk);
        } catch (IOException dropped) {
            closeQuietly(c);
            return -1;
        }
    }

    private static String log(ManagedProcess p) throws IOException {
        return Files.readString(p.logFile(), StandardCharsets.ISO_8859_1);
    }

    private static void closeQuietly(SocketChannel c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // closing a socket of the test: nothing to do
        }
    }
}

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
        // An instance that accepts and never reads: every upload to it backs up into the sidecar.
        ServerSocket stuck = new ServerSocket();
        stuck.setReceiveBufferSize(4096);
        stuck.bind(new InetSocketAddress("127.0.0.1", 0));
        List<Socket> held = new CopyOnWriteArrayList<>();
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

        int admin = FreePorts.next();
        int outbound = FreePorts.next();
        Path dir = layout.logDir().resolve("direct-memory");
        Files.createDirectories(dir);
        Path registry = Files.writeString(dir.resolve("registry.json"),
                "{\"services\": {\"service-b\": [{\"host\": \"127.0.0.1\", \"port\": " + service.port() + "}], "
                + "\"stuck\": [{\"host\": \"127.0.0.1\", \"port\": " + stuck.getLocalPort() + "}]}}");
        Path config = Files.writeString(dir.resolve("sidecar.yaml"), "name: direct-memory\nservice: service-a\n"
                + "registry: file:" + registry + "\ndrain_ms: 500\nhttp: { access_log: false }\n"
                + "resilience: { retry: { max_retries: 0 } }\n"
                + "listeners:\n  admin: { port: " + admin + " }\n  outbound: { port: " + outbound + " }\n");
        ManagedProcess sidecar = ManagedProcess.startSidecar("direct-memory", layout.proxyJar(),
                List.of("-XX:MaxDirectMemorySize=8m"), config, admin, dir, WAIT);
        open.add(sidecar::kill);

        List<SocketChannel> uploads = new ArrayList<>();
        open.add(() -> closeAll(uploads));
        for (int i = 0; i < UPLOADS; i++) {
            SocketChannel c = SocketChannel.open(new InetSocketAddress("127.0.0.1", outbound));
            c.write(ByteBuffer.wrap(("POST /upload HTTP/1.1\r\nHost: stuck\r\nContent-Length: 1000000000\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1)));
            c.configureBlocking(false);
            uploads.add(c);
        }
        ByteBuffer chunk = ByteBuffer.allocate(64 * 1024);
        Poller.awaitTrue("the sidecar out of direct memory", WAIT, Duration.ofMillis(10), () -> {
            for (SocketChannel c : uploads) {
                chunk.clear();
                while (c.isOpen() && write(c, chunk) > 0) {
                    chunk.clear();
                }
            }
            return log(sidecar).contains("direct buffer memory");
        });

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

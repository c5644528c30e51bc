package io.outrigger.admin;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.DefaultEventExecutor;
import io.netty.util.concurrent.EventExecutor;
import io.outrigger.listener.Transports;
import io.outrigger.testing.ExhaustedAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * On io_uring, an admin connection whose read buffer cannot be allocated (out of direct memory) is
 * closed at once, as a proxy connection is (ReadBufferShortage), not left unread until
 * {@code http.idle_timeout_ms}. A real io_uring listener whose connections get an allocator that
 * refuses every direct buffer.
 */
class AdminReadBufferShortageTest {
    private static final long IDLE_TIMEOUT_MILLIS = 60_000;

    private EventLoopGroup group;
    private EventExecutor adminThread;
    private Channel server;

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.close().sync();
        }
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
        if (adminThread != null) {
            adminThread.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    @Test
    void anAdminConnectionWithoutAReadBufferIsClosedAtOnce() throws Exception {
        assumeTrue(Transports.IO_URING.isAvailable(), "io_uring is not available here");
        group = Transports.IO_URING.newGroup(1, "admin-read-shortage-test"); // the sidecar's loops: out-of-memory guarded
        adminThread = new DefaultEventExecutor();
        server = new ServerBootstrap().group(group).channel(Transports.IO_URING.serverChannel())
                .childOption(ChannelOption.ALLOCATOR, ExhaustedAllocator.DIRECT)
                .childHandler(new AdminInitializer(new AdminHandler(null, adminThread), IDLE_TIMEOUT_MILLIS, 16384))
                .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        int port = ((InetSocketAddress) server.localAddress()).getPort();
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write("GET /ready HTTP/1.1\r\nHost: admin\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            try {
                assertEquals(-1, in.read(), "closed without an answer: the request could not be read");
            } catch (SocketTimeoutException e) {
                fail("still open after 5 s: the connection is left unread until the idle timeout (" + IDLE_TIMEOUT_MILLIS + " ms)");
            } catch (java.net.SocketException e) {
                // reset: closed at once too
            }
        }
    }
}

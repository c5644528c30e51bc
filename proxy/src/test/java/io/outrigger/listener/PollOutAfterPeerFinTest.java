package io.outrigger.listener;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Writes that wait for room on a connection whose peer has half-closed still go out once the peer reads, on
 * every transport. On io_uring Netty 4.2.18 stalled them for good: a write of several buffers at once
 * ({@code writev}) that the socket took only in part armed a POLLOUT poll, which completed at once with
 * POLLRDHUP alone (io_uring always reports it once the peer's FIN is in); Netty took that completion for the
 * FIN, not for the POLLOUT, and kept waiting for a POLLOUT that had come and gone (see
 * {@link IoUringPollOutIoHandler}).
 */
class PollOutAfterPeerFinTest {

    @ParameterizedTest
    @EnumSource(Transports.class)
    void writesWaitingForRoomGoOutAfterThePeersFin(Transports transport) throws Exception {
        assumeTrue(transport.isAvailable(), transport + " is not available here");
        int pieces = 64;
        int piece = 128 * 1024;
        byte[] sent = new byte[pieces * piece];
        ThreadLocalRandom.current().nextBytes(sent);
        EventLoopGroup group = transport.newGroup(1, "pollout-test"); // the sidecar's own loops
        CompletableFuture<Void> finSeen = new CompletableFuture<>();
        try (ServerSocket peer = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Channel ch = new Bootstrap().group(group).channel(transport.clientChannel())
                    .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .handler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                            if (evt == ChannelInputShutdownEvent.INSTANCE) {
                                finSeen.complete(null);
                            }
                            ctx.fireUserEventTriggered(evt);
                        }
                    })
                    .connect(peer.getLocalSocketAddress()).sync().channel();
            try (Socket s = peer.accept()) {
                s.shutdownOutput(); // the peer's FIN, before anything is written to it
                finSeen.get(10, TimeUnit.SECONDS);
                // Several buffers flushed at once, far more than the socket takes: one writev, taken in part.
                ch.eventLoop().submit(() -> {
                    for (int i = 0; i < pieces; i++) {
                        ch.write(Unpooled.wrappedBuffer(sent, i * piece, piece));
                    }
                    ch.flush();
                }).sync();
                // The peer reads nothing until the socket took what it could and the loop went on to the rest,
                // which then has to wait for room: the loop's own tasks order this, no clock.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (ch.eventLoop().submit(() -> ch.unsafe().outboundBuffer().totalPendingWriteBytes()).get() >= sent.length) {
                    assertTrue(System.nanoTime() < deadline, "the socket took nothing");
                }
                for (int turn = 0; turn < 3; turn++) {
                    ch.eventLoop().submit(() -> { }).sync(); // a loop turn each: the next write's completion is in
                }
                s.setSoTimeout(10_000);
                InputStream in = s.getInputStream();
                byte[] got = new byte[sent.length];
                int n = 0;
                try {
                    for (int r; n < got.length && (r = in.read(got, n, got.length - n)) >= 0; ) {
                        n += r;
                    }
                } catch (java.net.SocketTimeoutException stalled) {
                    // reported below with the count
                }
                assertTrue(n == got.length, transport + ": the writes stalled after " + n + " of " + got.length + " bytes");
                assertArrayEquals(sent, got);
            } finally {
                ch.close().sync();
            }
        } finally {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
        }
    }
}

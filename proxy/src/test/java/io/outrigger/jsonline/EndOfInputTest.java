package io.outrigger.jsonline;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.outrigger.SidecarContext;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.testing.Await;
import io.outrigger.time.Ticker;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a connection whose client half-closed says when its drain time runs out, and what a read error ends. */
class EndOfInputTest {
    /**
     * A call still waiting on its retry's backoff when the drain time runs out is what held the close back: the
     * WARN line said "replies not all taken by the peer", sending the reader to look at a client that read fine.
     */
    @Test
    void aCallStillWaitingIsNamedAsWhatHeldTheCloseBack() throws Exception {
        JsonLineNode node = new JsonLineNode(new SidecarContext(SidecarConfig.defaults(), FileRegistry.embedded(), Ticker.system()),
                null, 100);
        EmbeddedChannel ch = JsonLineTesting.channel(node);
        PrintStream stderr = System.err;
        ByteArrayOutputStream logged = new ByteArrayOutputStream();
        System.setErr(new PrintStream(logged, true, StandardCharsets.UTF_8)); // slf4j-simple looks System.err up per line
        try {
            ch.writeInbound(Unpooled.copiedBuffer("{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\","
                    + "\"msg_id\":1,\"retries\":1,\"base_ms\":60000,\"force_failures\":1}}\n", StandardCharsets.UTF_8));
            ch.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
            Await.until("the drain time to run out", Duration.ofSeconds(5), () -> {
                ch.runScheduledPendingTasks();
                return !ch.isActive();
            });
        } finally {
            System.setErr(stderr);
            ch.finishAndReleaseAll();
        }
        String log = logged.toString(StandardCharsets.UTF_8);
        assertTrue(log.contains("end of input: 1 request(s) still in flight after 100 ms, closing"), log);
        assertFalse(log.contains("not all taken by the peer"), log);
    }

    /**
     * A read error (a reset) on io_uring: Netty fires the exception, then shuts the input down, which with
     * half-closure on makes the frame decoder hand on the partial line as the last one. The dispatcher's close
     * is delayed there while a write is outstanding, so the channel was still active: a cut line was answered
     * ("not valid JSON") and a whole line whose newline never came was served, a {@code health} report
     * taking an instance out for a client that was gone. Nothing read after the error is served now.
     */
    @Test
    void aLineCutByAReadErrorIsNotServed() {
        JsonLineNode node = JsonLineTesting.node();
        // Holds the close, as io_uring does until its outstanding write completes.
        io.netty.channel.ChannelOutboundHandlerAdapter delayedClose = new io.netty.channel.ChannelOutboundHandlerAdapter() {
            @Override
            public void close(io.netty.channel.ChannelHandlerContext ctx, io.netty.channel.ChannelPromise promise) {
            }
        };
        EmbeddedChannel ch = new EmbeddedChannel(delayedClose, new JsonLineInitializer(node, false));
        try {
            ch.writeInbound(Unpooled.copiedBuffer("{\"src\":\"c\",\"dest\":\"n\",\"body\":{\"type\":\"health\",\"msg_id\":1,"
                    + "\"service\":\"service-b\",\"host\":\"10.0.1.1\",\"port\":8080,\"healthy\":false}}", StandardCharsets.UTF_8));
            // What Netty's io_uring read-error path fires, in its order.
            ch.pipeline().fireChannelReadComplete();
            ch.pipeline().fireExceptionCaught(new java.io.IOException("recvAddress(..) failed: Connection reset by peer"));
            ch.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
            ch.runPendingTasks();
            Object reply = ch.readOutbound();
            io.netty.util.ReferenceCountUtil.release(reply);
            assertNull(reply, "no reply to a line the reset cut off");
        } finally {
            ch.finishAndReleaseAll();
        }
        EmbeddedChannel other = JsonLineTesting.channel(node);
        other.writeInbound(Unpooled.copiedBuffer("{\"src\":\"c\",\"dest\":\"n\",\"body\":{\"type\":\"discover\",\"msg_id\":2,"
                + "\"service\":\"service-b\"}}\n", StandardCharsets.UTF_8));
        io.netty.buffer.ByteBuf reply = other.readOutbound();
        try {
            assertTrue(reply.toString(StandardCharsets.UTF_8).contains("[{\"host\":\"10.0.1.1\",\"port\":8080},"),
                    reply.toString(StandardCharsets.UTF_8));
        } finally {
            reply.release();
            other.finishAndReleaseAll();
        }
    }
}

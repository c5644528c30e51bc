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
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a connection whose client half-closed says when its drain time runs out. */
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
}

package io.outrigger.listener;

import io.netty.channel.IoHandle;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoRegistration;
import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class YieldingIoHandlerTest {
    /** Handles the scripted number of events per turn and records the calls it gets. */
    private static final class Scripted implements IoHandler {
        final Queue<Integer> events = new ArrayDeque<>();
        final StringBuilder calls = new StringBuilder();

        @Override
        public int run(IoHandlerContext context) {
            return events.remove();
        }

        @Override
        public void initialize() {
            calls.append("initialize ");
        }

        @Override
        public void prepareToDestroy() {
            calls.append("prepareToDestroy ");
        }

        @Override
        public void destroy() {
            calls.append("destroy ");
        }

        @Override
        public IoRegistration register(IoHandle handle) {
            calls.append("register ");
            return null;
        }

        @Override
        public void wakeup() {
            calls.append("wakeup ");
        }

        @Override
        public boolean isCompatible(Class<? extends IoHandle> handleType) {
            calls.append("isCompatible ");
            return true;
        }
    }

    @Test
    void yieldsAfterTurnsOfAtLeastTheThresholdAndReportsTheEventsUnchanged() {
        Scripted inner = new Scripted();
        inner.events.addAll(List.of(0, 7, 8, 1, 30));
        AtomicInteger yields = new AtomicInteger();
        YieldingIoHandler handler = new YieldingIoHandler(inner, 8, yields::incrementAndGet);

        int[] seen = new int[5];
        int[] yieldsAfter = new int[5];
        for (int i = 0; i < 5; i++) {
            seen[i] = handler.run(null);
            yieldsAfter[i] = yields.get();
        }
        assertEquals(List.of(0, 7, 8, 1, 30), List.of(seen[0], seen[1], seen[2], seen[3], seen[4]));
        assertEquals(List.of(0, 0, 1, 1, 2), List.of(yieldsAfter[0], yieldsAfter[1], yieldsAfter[2], yieldsAfter[3], yieldsAfter[4]),
                "a yield after the turns of 8 and 30 events only");
    }

    @Test
    void theThresholdPropertyIsAWholeNumberOrTheDefault() {
        assertEquals(YieldingIoHandler.DEFAULT_THRESHOLD, YieldingIoHandler.threshold(null));
        assertEquals(0, YieldingIoHandler.threshold("0"));
        assertEquals(32, YieldingIoHandler.threshold(" 32 "));
        assertEquals(YieldingIoHandler.DEFAULT_THRESHOLD, YieldingIoHandler.threshold("abc"), "a typo is the default, not an error");
        assertEquals(YieldingIoHandler.DEFAULT_THRESHOLD, YieldingIoHandler.threshold("8.5"));
    }

    @Test
    void passesEverythingElseThrough() throws Exception {
        Scripted inner = new Scripted();
        YieldingIoHandler handler = new YieldingIoHandler(inner, 8, () -> { });
        handler.initialize();
        handler.register(null);
        handler.wakeup();
        assertTrue(handler.isCompatible(IoHandle.class));
        handler.prepareToDestroy();
        handler.destroy();
        assertEquals("initialize register wakeup isCompatible prepareToDestroy destroy ", inner.calls.toString());
    }
}

package io.outrigger;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.outrigger.testing.RecordingLeakDetector;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The build's leak guard itself: a dropped buffer must be reported, or the guard is worth nothing. */
class LeakDetectionTest {

    @Test
    void paranoidDetectorReportsADroppedBuffer() throws Exception {
        assertEquals(ResourceLeakDetector.Level.PARANOID, ResourceLeakDetector.getLevel());
        RecordingLeakDetector.drain();
        leakOne();
        long deadline = System.nanoTime() + 10_000_000_000L;
        List<String> leaks = List.of();
        while (leaks.isEmpty() && System.nanoTime() < deadline) {
            System.gc();
            ByteBuf poll = PooledByteBufAllocator.DEFAULT.directBuffer(8); // allocation polls the detector's queue
            poll.release();
            leaks = RecordingLeakDetector.drain();
        }
        assertFalse(leaks.isEmpty(), "the leak detector did not report a dropped buffer");
        assertTrue(leaks.get(0).contains("LEAK"), leaks.get(0));
    }

    private static void leakOne() {
        ByteBuf leaked = PooledByteBufAllocator.DEFAULT.directBuffer(64);
        leaked.writeLong(42);
    }
}

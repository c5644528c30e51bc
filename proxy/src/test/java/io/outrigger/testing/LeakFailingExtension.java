package io.outrigger.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.List;

/**
 * Fails a test class when Netty reported a buffer leak while it ran.
 *
 * <p>Registered for every test through JUnit's extension auto-detection. After each class it
 * collects garbage and allocates a few tracked buffers, which makes the leak detector poll its
 * reference queue, then fails with the leak records if {@link RecordingLeakDetector} saw any.
 */
public final class LeakFailingExtension implements AfterAllCallback {

    @Override
    public void afterAll(ExtensionContext context) {
        if (!"io.outrigger.testing.RecordingLeakDetector".equals(System.getProperty("io.netty.customResourceLeakDetector"))) {
            return;
        }
        for (int round = 0; round < 3; round++) {
            System.gc();
            System.runFinalization();
            pollDetectors();
        }
        List<String> leaks = RecordingLeakDetector.drain();
        if (!leaks.isEmpty()) {
            throw new AssertionError(leaks.size() + " buffer leak(s) in " + context.getDisplayName()
                    + ":\n" + String.join("\n\n", leaks));
        }
    }

    private static void pollDetectors() {
        for (int i = 0; i < 8; i++) {
            ByteBuf pooled = PooledByteBufAllocator.DEFAULT.directBuffer(16);
            ByteBuf heap = UnpooledByteBufAllocator.DEFAULT.heapBuffer(16);
            pooled.release();
            heap.release();
        }
    }
}

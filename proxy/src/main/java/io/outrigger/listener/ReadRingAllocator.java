package io.outrigger.listener;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.channel.uring.IoUringBufferRingAllocator;
import io.netty.util.internal.PlatformDependent;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The read ring's buffers: from {@code pool} (the sidecar's allocator), and, when it refuses one (out of direct
 * memory), from the JDK's own direct memory, so that refilling the ring does not fail.
 *
 * <p>Why: Netty 4.2.18 refills the ring as each buffer is used up, after it has taken the buffer's last read out as a
 * slice for the connection; when that refill fails, the error leaves with the slice still held and never released:
 * a 16 KiB buffer lost for good (the leak detector reported it in the sidecar under a flood) on every refill refused,
 * and the read on that connection failed. With the overflow, the refill succeeds and the read goes on; what runs the
 * sidecar out of memory fails where it is allocated, as before.
 *
 * <p>An overflow buffer is the JDK's ({@link ByteBuffer#allocateDirect}), outside the count of Netty's allocator, and
 * is freed as soon as it is released. At most {@link #overflowLimit} of them are held at a time: a quarter of the
 * direct memory limit, and no more than 4 MiB; past that the refusal goes on to Netty as it was.
 */
final class ReadRingAllocator implements IoUringBufferRingAllocator {
    private static final long OVERFLOW_MAX_BYTES = 4L << 20;

    private final IoUringBufferRingAllocator pool;
    private final int bufferBytes;
    private final int overflowLimit;
    private final AtomicInteger overflowHeld = new AtomicInteger();

    ReadRingAllocator(IoUringBufferRingAllocator pool, int bufferBytes) {
        this(pool, bufferBytes, (int) Math.max(1, Math.min(OVERFLOW_MAX_BYTES, PlatformDependent.maxDirectMemory() / 4) / bufferBytes));
    }

    ReadRingAllocator(IoUringBufferRingAllocator pool, int bufferBytes, int overflowLimit) {
        this.pool = pool;
        this.bufferBytes = bufferBytes;
        this.overflowLimit = overflowLimit;
    }

    @Override
    public ByteBuf allocate() {
        try {
            return pool.allocate();
        } catch (OutOfMemoryError refused) {
            if (overflowHeld.incrementAndGet() > overflowLimit) {
                overflowHeld.decrementAndGet();
                throw refused;
            }
            try {
                return new Overflow(ByteBuffer.allocateDirect(bufferBytes)).clear();
            } catch (OutOfMemoryError alsoRefused) {
                overflowHeld.decrementAndGet();
                throw refused;
            }
        }
    }

    @Override
    public void lastBytesRead(int attempted, int actual) {
        pool.lastBytesRead(attempted, actual);
    }

    /** How many overflow buffers are held now. */
    int overflowHeld() {
        return overflowHeld.get();
    }

    /** A buffer of the JDK's direct memory, freed (and no longer counted) once released. */
    private final class Overflow extends UnpooledDirectByteBuf {
        private ByteBuffer memory;

        Overflow(ByteBuffer memory) {
            super(UnpooledByteBufAllocator.DEFAULT, memory, memory.capacity());
            this.memory = memory;
        }

        @Override
        protected void deallocate() {
            super.deallocate();
            ByteBuffer freed = memory;
            memory = null;
            if (freed != null) {
                PlatformDependent.freeDirectBuffer(freed);
                overflowHeld.decrementAndGet();
            }
        }
    }
}

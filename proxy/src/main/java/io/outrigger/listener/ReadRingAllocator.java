package io.outrigger.listener;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.channel.uring.IoUringBufferRingAllocator;
import io.netty.util.internal.PlatformDependent;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The read ring's buffers, from {@code pool} (the sidecar's allocator); a buffer the pool refuses (out of direct
 * memory) for one of Netty's batches comes from the JDK's own direct memory instead.
 *
 * <p>Why: Netty 4.2.18 grows a ring (after the kernel found it empty) by allocating a batch of buffers, and when that
 * allocation fails it releases every buffer the ring holds, including those still published to the kernel, which then
 * writes the next reads into freed memory. Under a flood of uploads to an instance that reads none, with 8 MiB of direct
 * memory and two busy cores, the sidecar's native heap was corrupted and the JVM crashed (SIGSEGV in glibc's
 * {@code unlink_chunk}; "malloc(): unsorted double linked list corrupted") 2 times in 6. A buffer for a batch
 * ({@code RingConsumer.fill} with a count, which also fills a new ring and an emptied one) is therefore not refused here
 * while the JDK has memory: at most the ring's size a loop comes from the JDK that way (2 MiB; 1 MiB where the direct
 * memory limit is under 64 MiB), each buffer freed as soon as it is released.
 *
 * <p>A single refill (as each buffer is used up) the pool refuses comes from the JDK too, while the refills' buffers
 * held are under a quarter of the direct memory limit and 4 MiB; past that it is refused, with the loop's WARN line
 * ({@link OutOfMemoryGuardIoHandler}): Netty then fails that connection's read and loses the buffer the refill was for
 * (its last slice is never released: a Netty 4.2.18 bug the leak detector reports, 16 KiB each time).
 *
 * <p>The JDK counts its direct memory against the same {@code -XX:MaxDirectMemorySize}, apart from Netty's count; were
 * that count at its limit too, {@code allocateDirect} would wait for a collection (up to about half a second, on the
 * loop) before refusing.
 */
final class ReadRingAllocator implements IoUringBufferRingAllocator {
    private static final StackWalker STACK = StackWalker.getInstance(StackWalker.Option.RETAIN_CLASS_REFERENCE);
    private static final String RING_CONSUMER = "io.netty.channel.uring.IoUringBufferRing$RingConsumer";
    private static final long REFILL_MAX_BYTES = 4L << 20;

    private final IoUringBufferRingAllocator pool;
    private final int bufferBytes;
    private final AtomicInteger overflowHeld = new AtomicInteger();
    /** Of those, the ones single refills took, and how many they may hold. */
    private final AtomicInteger refillsHeld = new AtomicInteger();
    private final int refillLimit;

    ReadRingAllocator(IoUringBufferRingAllocator pool, int bufferBytes) {
        this(pool, bufferBytes, (int) (Math.min(REFILL_MAX_BYTES, PlatformDependent.maxDirectMemory() / 4) / bufferBytes));
    }

    ReadRingAllocator(IoUringBufferRingAllocator pool, int bufferBytes, int refillLimit) {
        this.pool = pool;
        this.bufferBytes = bufferBytes;
        this.refillLimit = refillLimit;
    }

    @Override
    public ByteBuf allocate() {
        try {
            return pool.allocate();
        } catch (OutOfMemoryError refused) {
            boolean batch = inBatchFill();
            if (!batch && refillsHeld.get() >= refillLimit) {
                OutOfMemoryGuardIoHandler.readBufferRefused(refused); // logged as the loop logs a read buffer refused
                throw refused;
            }
            try {
                return new Overflow(ByteBuffer.allocateDirect(bufferBytes), batch ? null : refillsHeld).clear();
            } catch (OutOfMemoryError alsoRefused) {
                OutOfMemoryGuardIoHandler.readBufferRefused(refused);
                throw refused;
            }
        }
    }

    @Override
    public void lastBytesRead(int attempted, int actual) {
        pool.lastBytesRead(attempted, actual);
    }

    /** Whether Netty asks from its batch fill, which releases the whole ring when a buffer is refused (looked at on refusal only). */
    static boolean inBatchFill() {
        return STACK.walk(frames -> frames.limit(12).anyMatch(f -> RING_CONSUMER.equals(f.getClassName())
                && "fill".equals(f.getMethodName()) && f.getMethodType().parameterCount() == 2));
    }

    /** How many buffers of the JDK's are held now. */
    int overflowHeld() {
        return overflowHeld.get();
    }

    /** A buffer of the JDK's direct memory, freed (and no longer counted) once released. */
    private final class Overflow extends UnpooledDirectByteBuf {
        private final AtomicInteger refills;
        private ByteBuffer memory;

        Overflow(ByteBuffer memory, AtomicInteger refills) {
            super(UnpooledByteBufAllocator.DEFAULT, memory, memory.capacity());
            this.memory = memory;
            this.refills = refills;
            overflowHeld.incrementAndGet();
            if (refills != null) {
                refills.incrementAndGet();
            }
        }

        @Override
        protected void deallocate() {
            super.deallocate();
            ByteBuffer freed = memory;
            memory = null;
            if (freed != null) {
                PlatformDependent.freeDirectBuffer(freed);
                overflowHeld.decrementAndGet();
                if (refills != null) {
                    refills.decrementAndGet();
                }
            }
        }
    }
}

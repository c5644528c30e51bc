package io.outrigger.listener;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.uring.IoUringBufferRingAllocator;

import java.nio.ByteBuffer;

/**
 * The read ring's buffers: from {@code pool} (the sidecar's allocator), and, when it refuses one (out of direct
 * memory), from a small reserve set aside when the loops start, so that refilling the ring does not fail.
 *
 * <p>Why: Netty 4.2.18 refills the ring as each buffer is used up, after it has taken the buffer's last read out as a
 * slice for the connection; when that refill fails, the error leaves with the slice still held and never released:
 * a 16 KiB buffer lost for good (the leak detector reported it) on every refill refused, and the read on that
 * connection failed. With the reserve, the refill succeeds and the read goes on; what runs the sidecar out of memory
 * fails where it is allocated, as before. A reserve buffer is handed out again once every slice of it is released.
 * Only when all of the reserve is held does the refusal go on to Netty as it was.
 */
final class ReadRingAllocator implements IoUringBufferRingAllocator {
    /** Reserve buffers: enough for the refills of a shortage that the sidecar's other refusals soon end. */
    static final int RESERVE = 16;

    private final IoUringBufferRingAllocator pool;
    private final int bufferBytes;
    private final ByteBuffer reserve;
    /** What each reserve slot was last handed out as; free again once released. */
    private final ByteBuf[] handedOut = new ByteBuf[RESERVE];

    ReadRingAllocator(IoUringBufferRingAllocator pool, int bufferBytes) {
        this.pool = pool;
        this.bufferBytes = bufferBytes;
        // The JDK's own direct memory, outside the count of the pool's; touched only if ever used.
        this.reserve = ByteBuffer.allocateDirect(RESERVE * bufferBytes);
    }

    @Override
    public ByteBuf allocate() {
        try {
            return pool.allocate();
        } catch (OutOfMemoryError refused) {
            ByteBuf spare = fromReserve();
            if (spare == null) {
                throw refused;
            }
            return spare;
        }
    }

    @Override
    public void lastBytesRead(int attempted, int actual) {
        pool.lastBytesRead(attempted, actual);
    }

    /** A reserve buffer nothing holds any more, or null when all are held. The loops share the reserve. */
    private synchronized ByteBuf fromReserve() {
        for (int i = 0; i < RESERVE; i++) {
            if (handedOut[i] == null || handedOut[i].refCnt() == 0) {
                // A buffer of its own over the slot's bytes (not freed when released: the reserve stays).
                ByteBuf spare = Unpooled.wrappedBuffer(reserve.slice(i * bufferBytes, bufferBytes)).clear();
                handedOut[i] = spare;
                return spare;
            }
        }
        return null;
    }

    /** How many reserve buffers are held now. */
    synchronized int reserveHeld() {
        int held = 0;
        for (ByteBuf b : handedOut) {
            held += b != null && b.refCnt() > 0 ? 1 : 0;
        }
        return held;
    }
}

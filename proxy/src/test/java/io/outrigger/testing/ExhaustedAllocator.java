package io.outrigger.testing;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * An allocator out of memory, as a full {@code -XX:MaxDirectMemorySize} leaves Netty's: every direct
 * buffer is refused with an {@link OutOfMemoryError} worded as Netty's own count words it; heap
 * buffers come, or are refused too ({@link #ALL}).
 */
public final class ExhaustedAllocator extends AbstractByteBufAllocator {
    /** Refuses direct buffers; heap buffers come. */
    public static final ExhaustedAllocator DIRECT = new ExhaustedAllocator(false);
    /** Refuses every buffer, heap ones too. */
    public static final ExhaustedAllocator ALL = new ExhaustedAllocator(true);

    private final boolean heapToo;

    private ExhaustedAllocator(boolean heapToo) {
        super(false); // heap buffers preferred, as for an encoder; a read buffer asks for a direct one
        this.heapToo = heapToo;
    }

    @Override
    protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
        if (heapToo) {
            throw new OutOfMemoryError("failed to allocate " + initialCapacity + " byte(s) of heap memory");
        }
        return Unpooled.buffer(initialCapacity, maxCapacity);
    }

    @Override
    protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
        throw new OutOfMemoryError("failed to allocate " + initialCapacity + " byte(s) of direct memory");
    }

    @Override
    public boolean isDirectBufferPooled() {
        return false;
    }
}

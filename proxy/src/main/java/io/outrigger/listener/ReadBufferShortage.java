package io.outrigger.listener;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.UncheckedBooleanSupplier;

/**
 * Ends an io_uring connection whose next read buffer cannot be allocated (out of direct memory),
 * the way epoll and NIO end it: the {@link OutOfMemoryError} goes down the connection's pipeline
 * ({@code exceptionCaught}) and the connection closes.
 *
 * <p>Why: Netty 4.2.18's io_uring transport allocates a connection's next read buffer in the I/O
 * handler and, when that fails, arms no read for the connection and throws out of the turn (which
 * {@link OutOfMemoryGuardIoHandler} catches). Nothing reads that connection again: a client whose
 * request was all sent, or an instance whose answer was, waited until an idle timeout, and an
 * exchange waiting on an instance ended as a timeout that counted against the instance's breakers.
 * Closed with its cause, the client connection is answered or closed at once, and an instance's
 * connection fails its exchange as the sidecar's own shortage (no verdict on the instance).
 *
 * <p>On epoll and NIO, where Netty itself fails and closes such a connection, it only reports the refusal
 * to the loop's {@link OutOfMemoryGuardIoHandler}, which logs it (one WARN line a second at most): nothing
 * said so before, and a sidecar out of direct memory on epoll only reset connections.
 *
 * <p>Installed per connection ({@link #installOn}), on its event loop, before the first read.
 */
public final class ReadBufferShortage implements RecvByteBufAllocator {
    private final Channel channel;
    private final RecvByteBufAllocator allocator;
    /** Whether this closes the connection (io_uring), or only reports the refusal (epoll and NIO close it themselves). */
    private final boolean closes;
    private boolean failed;

    private ReadBufferShortage(Channel channel, RecvByteBufAllocator allocator, boolean closes) {
        this.channel = channel;
        this.allocator = allocator;
        this.closes = closes;
    }

    /**
     * Makes {@code ch} close with its cause when its next read buffer cannot be allocated (io_uring; epoll and NIO already do),
     * and that refusal logged.
     */
    public static void installOn(Channel ch) {
        ch.config().setRecvByteBufAllocator(new ReadBufferShortage(ch, ch.config().getRecvByteBufAllocator(),
                ch instanceof IoUringSocketChannel));
    }

    /** {@code allocator} for {@code ch}, closing {@code ch} when a read buffer cannot be allocated. */
    static RecvByteBufAllocator wrap(Channel ch, RecvByteBufAllocator allocator) {
        return new ReadBufferShortage(ch, allocator, true);
    }

    @Override
    public Handle newHandle() {
        return new FailingHandle(allocator.newHandle());
    }

    private void fail(OutOfMemoryError e) {
        if (failed) {
            return;
        }
        failed = true;
        // After the turn the error ends: the pipeline's handlers see the cause (an HTTP client connection is then
        // logged as cut by the sidecar, as on epoll), then the connection closes.
        channel.eventLoop().execute(() -> {
            channel.pipeline().fireExceptionCaught(e);
            channel.close();
        });
    }

    /** The connection's own handle, which reports a read buffer it cannot allocate before the error goes on. */
    private final class FailingHandle extends DelegatingHandle implements ExtendedHandle {
        FailingHandle(Handle delegate) {
            super(delegate);
        }

        @Override
        public ByteBuf allocate(ByteBufAllocator alloc) {
            try {
                return super.allocate(alloc);
            } catch (OutOfMemoryError e) {
                if (closes) {
                    fail(e); // and the loop's guard logs the error when it leaves the turn
                } else {
                    OutOfMemoryGuardIoHandler.readBufferRefused(e); // Netty fails the read and closes the connection
                }
                throw e;
            }
        }

        @Override
        public boolean continueReading(UncheckedBooleanSupplier maybeMoreDataSupplier) {
            return ((ExtendedHandle) delegate()).continueReading(maybeMoreDataSupplier);
        }
    }
}

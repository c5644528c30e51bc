package io.outrigger.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.concurrent.ScheduledFuture;

import java.util.concurrent.TimeUnit;

/**
 * Closes a client connection after an answer that came before the client finished sending its
 * request (a 413 for a body too large, a 400 or 431 for a bad head, an upstream's early answer).
 * Closing at once while the client's bytes are still arriving makes the kernel answer them with a
 * reset, and a reset can destroy the answer in the client's receive buffer before it is read. So,
 * as nginx's lingering close does: the sending side is shut (FIN after the answer), what the client
 * still sends is read and dropped, and the connection closes when the client closes its side or
 * after {@value #LINGER_MILLIS} ms at most. Stateless and sharable; runs on the channel's event loop.
 */
final class LingeringClose implements ChannelFutureListener {
    static final LingeringClose INSTANCE = new LingeringClose();
    /** The longest a closing connection goes on reading and dropping what its client sends. */
    static final long LINGER_MILLIS = 2_000;

    private LingeringClose() {
    }

    /** The close listener for an answer written while {@code requestComplete} may still be false. */
    static ChannelFutureListener after(boolean requestComplete) {
        return requestComplete ? ChannelFutureListener.CLOSE : INSTANCE;
    }

    @Override
    public void operationComplete(ChannelFuture written) {
        Channel ch = written.channel();
        if (!written.isSuccess() || !ch.isActive() || !(ch instanceof DuplexChannel)) {
            ch.close();
            return;
        }
        ScheduledFuture<?> deadline = ch.eventLoop().schedule(() -> {
            ch.close();
        }, LINGER_MILLIS, TimeUnit.MILLISECONDS);
        ch.closeFuture().addListener(f -> deadline.cancel(false));
        ((DuplexChannel) ch).shutdownOutput();
        ch.config().setAutoRead(true); // the request guard or the finished exchange drops what comes; EOF closes
    }
}

package io.outrigger.listener;

import io.netty.channel.IoEvent;
import io.netty.channel.IoHandle;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.IoRegistration;
import io.netty.channel.uring.IoUringIoEvent;
import io.netty.channel.uring.IoUringIoHandle;

/**
 * io_uring's I/O handler, with a work-around for Netty 4.2.18: a poll that completes because the peer
 * half-closed, reset or failed is also reported as room to write, so that writes waiting for POLLOUT go on.
 *
 * <p>Why: when a write finds the socket full ({@code EAGAIN}, as a {@code writev} of several buffers does),
 * Netty arms a {@code POLL_ADD} for POLLOUT and writes nothing more until it completes with the POLLOUT bit.
 * io_uring adds POLLRDHUP, POLLHUP and POLLERR to every poll's mask, so once the peer's FIN is in, that
 * poll completes at once with POLLRDHUP alone. Netty dispatches a poll's completion on the bits of its
 * result, takes it for the FIN, and its write state keeps waiting for a POLLOUT that came and went: the
 * connection's writes stall for good (until an idle timeout, if any). A peer that half-closes and goes on
 * reading (a TCP relay's client or upstream, an upload to an instance that answered and half-closed) sees
 * the stream stop. {@code PollOutAfterPeerFinTest} shows it.
 *
 * <p>Here a {@code POLL_ADD} completion that carries POLLRDHUP, POLLHUP or POLLERR but not POLLOUT gets the
 * POLLOUT bit too. Netty then also tries to write: a write with nothing queued does nothing, a write
 * that finds the socket still full arms POLLOUT again (the send itself waits in the kernel), and one on a
 * broken connection fails and closes it, as it should. Costs one comparison per completion, and a new
 * event object only for such a poll. Used on the event loop's own thread only, like the handler it wraps.
 */
final class IoUringPollOutIoHandler extends ForwardingIoHandler {
    /** {@code IORING_OP_POLL_ADD}. */
    static final byte POLL_ADD = 6;
    static final int POLLOUT = 0x004;
    /** POLLERR, POLLHUP and POLLRDHUP: what io_uring reports on every poll whatever it asked for. */
    static final int ALWAYS_REPORTED = 0x008 | 0x010 | 0x2000;

    private IoUringPollOutIoHandler(IoHandler handler) {
        super(handler);
    }

    /** {@code factory}'s handlers (io_uring's), each reporting a hang-up as room to write too. */
    static IoHandlerFactory wrap(IoHandlerFactory factory) {
        return wrapEach(factory, IoUringPollOutIoHandler::new);
    }

    @Override
    public IoRegistration register(IoHandle handle) throws Exception {
        return super.register(handle instanceof IoUringIoHandle uring ? new PollOutHandle(uring) : handle);
    }

    /** The event a channel is given for {@code event}: the same, or a hang-up's poll with POLLOUT added. */
    static IoEvent withPollOut(IoEvent event) {
        if (event instanceof IoUringIoEvent e && e.opcode() == POLL_ADD) {
            int res = e.res();
            if (res > 0 && (res & POLLOUT) == 0 && (res & ALWAYS_REPORTED) != 0) {
                return new IoUringIoEvent(res | POLLOUT, e.flags(), e.opcode(), e.userData());
            }
        }
        return event;
    }

    /** A channel's handle whose hang-up polls also report room to write. */
    private static final class PollOutHandle implements IoUringIoHandle {
        private final IoUringIoHandle handle;

        PollOutHandle(IoUringIoHandle handle) {
            this.handle = handle;
        }

        @Override
        public void handle(IoRegistration registration, IoEvent event) {
            handle.handle(registration, withPollOut(event));
        }

        @Override
        public void registered() {
            handle.registered();
        }

        @Override
        public void unregistered() {
            handle.unregistered();
        }

        @Override
        public void close() throws Exception {
            handle.close();
        }
    }
}

package io.outrigger.listener;

import io.netty.channel.IoHandle;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.IoOps;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoOps;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Epoll's I/O handler, with a work-around for Netty 4.2.18: a channel whose descriptor left the epoll set
 * because it watched nothing is put back in when it watches something again.
 *
 * <p>Why: Netty 4.2.18 takes a descriptor out of the epoll set ({@code EPOLL_CTL_DEL}) when its channel
 * asks for no event at all (netty/netty#16689, against a loop woken again and again by an fd left in the
 * set with an empty mask), but its registration stays marked as added, so the channel's next interest is
 * set with {@code EPOLL_CTL_MOD}, which fails with {@code ENOENT}. A connection gets there once its input
 * shut (the peer's FIN: Netty drops {@code EPOLLIN} and {@code EPOLLRDHUP}) while nothing waits to be
 * written; in the TCP relay, an upstream that answered and half-closed first while the client still
 * streamed to it. The next write that had to wait for room ({@code EPOLLOUT}) failed, and Netty's
 * write-error path shut the output down: the upstream read a cut stream ended by a clean FIN.
 *
 * <p>Here, once a registration was told to watch nothing, the next interest cancels it (Netty's own
 * delete then finds nothing to remove and logs so at debug level) and registers the channel anew, whose
 * first interest is added ({@code EPOLL_CTL_ADD}). A descriptor that watches nothing still stays out of
 * the set, as Netty meant. Costs two system calls, only for a channel that had nothing to watch; other
 * transports do not need it. Used on the event loop's own thread only, like the handler it wraps
 * (cancelling may come from elsewhere: both are synchronised on the registration, as Netty's are).
 */
final class EpollReAddingIoHandler extends ForwardingIoHandler {
    EpollReAddingIoHandler(IoHandler handler) {
        super(handler);
    }

    /** {@code factory}'s handlers (epoll's), each putting a channel back in the epoll set when it needs it. */
    static IoHandlerFactory wrap(IoHandlerFactory factory) {
        return wrapEach(factory, EpollReAddingIoHandler::new);
    }

    @Override
    public IoRegistration register(IoHandle handle) throws Exception {
        return new ReAddingRegistration(handle, super.register(handle));
    }

    private IoRegistration registerAgain(IoHandle handle) {
        try {
            return super.register(handle);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("cannot register " + handle + " with epoll again", e);
        }
    }

    /** A channel's registration: Netty's, replaced by a new one when the channel watches something again after nothing. */
    private final class ReAddingRegistration implements IoRegistration {
        private final IoHandle handle;
        private IoRegistration current;
        /** The last interest was none: Netty took the descriptor out of the set, or had not added it yet. */
        private boolean watchedNothing;
        private boolean cancelled;

        ReAddingRegistration(IoHandle handle, IoRegistration current) {
            this.handle = handle;
            this.current = current;
        }

        @Override
        public synchronized <T> T attachment() {
            return current.attachment();
        }

        @Override
        public synchronized long submit(IoOps ops) {
            if (cancelled) {
                return -1;
            }
            if (ops instanceof EpollIoOps epoll && epoll.value() == EpollIoOps.NONE.value()) {
                watchedNothing = true;
                return current.submit(ops);
            }
            if (watchedNothing) {
                // Netty's registration would modify a descriptor it removed: a new one adds it back.
                watchedNothing = false;
                current.cancel();
                current = registerAgain(handle);
            }
            return current.submit(ops);
        }

        @Override
        public synchronized boolean isValid() {
            return !cancelled && current.isValid();
        }

        @Override
        public synchronized boolean cancel() {
            if (cancelled) {
                return false;
            }
            cancelled = true;
            return current.cancel();
        }
    }
}

package io.outrigger.http;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;

/**
 * Ends a client connection whose request head takes longer than {@code timeoutMillis}
 * (default 10000, {@code http.header_timeout_ms}) to arrive, counted from the first byte of
 * the request: a defence against slow-header (slowloris) clients. It fires {@link #EXPIRED};
 * the {@link HttpRequestGuard} refuses the request, so the client gets a {@code 408} (in its
 * turn, after the answers to requests before it) and the connection closes, as HAProxy's
 * {@code timeout http-request} and Envoy's {@code request_headers_timeout} do. An idle keep-alive
 * connection is left to the idle timeout.
 *
 * <pre>
 *   HeaderTimeoutHandler -> HttpListenerCodec -> HttpRequestGuard (calls {@link #headReceived()}, {@link #requestReceived(boolean)})
 * </pre>
 *
 * Sits before the codec so it sees raw bytes. Costs no timer per request: the start of the
 * current head is a timestamp, and one timer per connection, armed by the first head and
 * re-armed from its expiry for the head then under way (if any), checks it (the way Netty's
 * {@code IdleStateHandler} does). The clock stands still while the sidecar itself reads nothing from
 * the connection (no {@code read()} asked for since the last read ended): a pipelined head split
 * between reads then waits for the answers to the requests before it, a wait that is not the client's.
 * One per connection; event loop only.
 */
final class HeaderTimeoutHandler extends ChannelDuplexHandler {
    /** The event fired up the pipeline when a head took too long: {@link HttpRequestGuard} turns it into a 408. */
    static final Object EXPIRED = new Object() {
        @Override
        public String toString() {
            return "HeaderTimeoutHandler.EXPIRED";
        }
    };
    private static final Logger log = LoggerFactory.getLogger(HeaderTimeoutHandler.class);

    private final long timeoutMillis;
    private final long timeoutNanos;
    private ChannelHandlerContext ctx;
    private boolean awaitingHead = true;
    /** When the head under way started (executor ticker), or 0 when none is. */
    private long headStartNanos;
    /** When the latest request's first byte came (executor ticker), kept once its head is in; 0 before any. */
    private long requestStartNanos;
    private ScheduledFuture<?> timer;
    /** Since when (executor ticker) the sidecar has asked for no read, or 0 while one is asked for. */
    private long notReadingSinceNanos;

    HeaderTimeoutHandler(long timeoutMillis) {
        this.timeoutMillis = timeoutMillis;
        this.timeoutNanos = TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void read(ChannelHandlerContext ctx) {
        if (notReadingSinceNanos != 0) {
            if (headStartNanos != 0) {
                // The head's clock stood still while the sidecar read nothing: it goes on from where it stopped.
                headStartNanos += ctx.executor().ticker().nanoTime() - notReadingSinceNanos;
                if (timer == null) {
                    timer = ctx.executor().schedule(this::expire, 0, TimeUnit.NANOSECONDS); // re-armed for the time left
                }
            }
            notReadingSinceNanos = 0;
        }
        ctx.read();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        // The read asked for is over; whoever wants more asks again (the handlers after this one, at once).
        notReadingSinceNanos = Math.max(1, ctx.executor().ticker().nanoTime());
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (awaitingHead && headStartNanos == 0) {
            startClock();
        }
        ctx.fireChannelRead(msg);
    }

    private void startClock() {
        headStartNanos = Math.max(1, ctx.executor().ticker().nanoTime());
        requestStartNanos = headStartNanos;
        if (timer == null) {
            timer = ctx.executor().schedule(this::expire, timeoutNanos, TimeUnit.NANOSECONDS);
        }
    }

    /** The codec produced a request head: stop the clock (the timer, if armed, finds no head under way). */
    void headReceived() {
        awaitingHead = false;
        headStartNanos = 0;
    }

    /** When the first byte of the latest request came in, on the event loop's ticker; 0 when none has. */
    long requestStartNanos() {
        return requestStartNanos;
    }

    /** Whether bytes of a request head have come in and the head is not complete yet. */
    boolean headUnderWay() {
        return headStartNanos != 0;
    }

    /**
     * The request is complete: the next byte starts the next head's clock.
     *
     * @param nextBegun whether bytes of the next request came in before this one was decoded to its end
     *                  (a pipelining client): its clock starts now, as no later read may bring more of it
     */
    void requestReceived(boolean nextBegun) {
        awaitingHead = true;
        if (nextBegun) {
            startClock();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancel();
        ctx.fireChannelInactive();
    }

    private void cancel() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void expire() {
        timer = null;
        if (headStartNanos == 0 || !ctx.channel().isActive()) {
            return;
        }
        if (notReadingSinceNanos != 0 && !ctx.channel().config().isAutoRead()) {
            return; // the sidecar reads nothing now: read() re-arms the timer with the time left
        }
        long left = timeoutNanos - (ctx.executor().ticker().nanoTime() - headStartNanos);
        if (left > 0) {
            timer = ctx.executor().schedule(this::expire, left, TimeUnit.NANOSECONDS); // a later head, still in time
        } else {
            log.debug("{}: request headers not received within {} ms", ctx.channel(), timeoutMillis);
            headStartNanos = 0;
            awaitingHead = false; // this connection takes no further request: the guard refuses it (408) and closes
            ctx.fireUserEventTriggered(EXPIRED);
        }
    }
}

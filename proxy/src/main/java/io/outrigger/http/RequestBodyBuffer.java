package io.outrigger.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.HttpContent;

import java.util.ArrayDeque;

/**
 * The request body a {@link ProxyExchange} holds and has not handed on, in one of two forms:
 *
 * <pre>
 *   whole:    body fits http.retry_buffer_bytes -> one buffer, kept to the end -> retainedDuplicate() per attempt
 *   streamed: larger or chunked body -> pieces that came before an instance's connection was open -> polled into it
 * </pre>
 *
 * Made only once a request has a body to hold (a request without one allocates none). Owns what it
 * holds: the whole body until {@link #release}, a waiting piece until {@link #poll} hands it on;
 * {@link #release} frees whatever is still held, once the exchange is over.
 *
 * <p>Not thread-safe: confined to the client connection's event loop, like its exchange.
 */
final class RequestBodyBuffer {
    /** The whole body, kept for every attempt; null for a streamed body, and once released. */
    private ByteBuf whole;
    /** Pieces of a streamed body waiting for a connection to an instance; null for a whole body. */
    private final ArrayDeque<HttpContent> waiting;

    private RequestBodyBuffer(ByteBuf whole, ArrayDeque<HttpContent> waiting) {
        this.whole = whole;
        this.waiting = waiting;
    }

    /** A buffer for a body kept whole, with room for {@code capacity} bytes to begin with. */
    static RequestBodyBuffer whole(ByteBufAllocator alloc, int capacity) {
        return new RequestBodyBuffer(alloc.buffer(capacity), null);
    }

    /** A queue for the pieces of a streamed body that come before an instance's connection is open. */
    static RequestBodyBuffer streamed() {
        return new RequestBodyBuffer(null, new ArrayDeque<>(4));
    }

    /** Copies {@code data}'s readable bytes onto the whole body; the caller keeps (and releases) {@code data}. */
    void append(ByteBuf data) {
        whole.writeBytes(data);
    }

    /** The whole body for one attempt: a retained duplicate, released by whoever writes it. */
    ByteBuf retainedWhole() {
        return whole.retainedDuplicate();
    }

    /** Keeps a piece of a streamed body until {@link #poll} hands it on; the buffer owns it meanwhile. */
    void queue(HttpContent content) {
        waiting.add(content);
    }

    /** The next waiting piece, now the caller's to write or release; null when none waits. */
    HttpContent poll() {
        return waiting == null ? null : waiting.poll();
    }

    /** Whether pieces of a streamed body wait for a connection to an instance. */
    boolean hasWaiting() {
        return waiting != null && !waiting.isEmpty();
    }

    /** Releases what is still held: the whole body, or the waiting pieces. */
    void release() {
        if (whole != null) {
            whole.release();
            whole = null;
        }
        if (waiting != null) {
            HttpContent c;
            while ((c = waiting.poll()) != null) {
                c.release();
            }
        }
    }
}

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
 * Made only once a request has a body to hold, from its first piece (a request without one allocates
 * none, and a head whose body has not come yet none either): a whole body's buffer starts at what came
 * and doubles as more comes, up to the declared length, so memory follows the bytes a client sent, not
 * the {@code Content-Length} it declared. Owns what it
 * holds: the whole body until {@link #release}, a waiting piece until {@link #poll} hands it on;
 * {@link #release} frees whatever is still held, once the exchange is over.
 *
 * <p>Not thread-safe: confined to the client connection's event loop, like its exchange.
 */
final class RequestBodyBuffer {
    /** The least room a whole body's buffer starts with (less when its declared length is less). */
    static final int FIRST_CAPACITY = 8192;

    /** The whole body, kept for every attempt; null for a streamed body, and once released. */
    private ByteBuf whole;
    /** Pieces of a streamed body waiting for a connection to an instance; null for a whole body. */
    private final ArrayDeque<HttpContent> waiting;

    private RequestBodyBuffer(ByteBuf whole, ArrayDeque<HttpContent> waiting) {
        this.whole = whole;
        this.waiting = waiting;
    }

    /**
     * A buffer for a body kept whole, holding a copy of its first piece {@code first} (the caller keeps and releases it).
     * Room for the whole of {@code length} declared bytes (-1: not declared) when they all came in that piece or when they
     * fit in {@link #FIRST_CAPACITY}, so a small body takes one buffer however it was split; else room for what came.
     */
    static RequestBodyBuffer whole(ByteBufAllocator alloc, ByteBuf first, long length) {
        int received = first.readableBytes();
        int max = length < 0 ? Integer.MAX_VALUE : (int) Math.max(length, received);
        ByteBuf buf = alloc.buffer(Math.min(max, Math.max(received, FIRST_CAPACITY)), max);
        buf.writeBytes(first);
        return new RequestBodyBuffer(buf, null);
    }

    /** A queue for the pieces of a streamed body that come before an instance's connection is open. */
    static RequestBodyBuffer streamed() {
        return new RequestBodyBuffer(null, new ArrayDeque<>(4));
    }

    /** Copies {@code data}'s readable bytes onto the whole body, growing it as needed; the caller keeps (and releases) {@code data}. */
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

package io.outrigger.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.LastHttpContent;

import java.util.ArrayDeque;

/**
 * The request body a {@link ProxyExchange} holds and has not handed on, in one of three forms:
 *
 * <pre>
 *   whole:    body fits http.retry_buffer_bytes -> one buffer, kept to the end -> retainedDuplicate() per attempt
 *   streamed: larger body -> pieces that came before an instance's connection was open -> polled into it
 *   copied:   chunked body -> streamed as above, and a copy of its bytes kept besides, up to http.retry_buffer_bytes
 *             -> last chunk in, copy within the limit: kept whole, with its trailer section -> retainedDuplicate() per later attempt
 *             -> copy outgrows the limit: released at once, the body only streams
 * </pre>
 *
 * Made only once a request has a body to hold, from its first piece (a request without one allocates
 * none, and a head whose body has not come yet none either): a whole body's buffer starts at what came
 * and doubles as more comes, up to the declared length, so memory follows the bytes a client sent, not
 * the {@code Content-Length} it declared; a copy grows the same way, up to the limit. A chunked body is
 * copied, never held back: it may be an interactive stream, so each piece still goes to the first attempt as it
 * comes, and the copy takes its bytes (never the piece's buffer, which may be a slice of a shared read ring). Owns
 * what it holds: the whole body or the copy until {@link #release}, a waiting piece until {@link #poll} hands it on;
 * {@link #release} frees whatever is still held, once the exchange is over.
 *
 * <p>Not thread-safe: confined to the client connection's event loop, like its exchange.
 */
final class RequestBodyBuffer {
    /** The least room a whole body's buffer (or a copy) starts with (less when its declared length, or the limit, is less). */
    static final int FIRST_CAPACITY = 8192;

    /** The whole body, kept for every attempt, or a copied body's copy; null for a streamed body, before a copy's first byte, and once released. */
    private ByteBuf whole;
    /** Pieces of a streamed (or copied) body waiting for a connection to an instance; null for a whole body. */
    private final ArrayDeque<HttpContent> waiting;
    /** Where a copied body's copy takes its memory; null for the other forms. */
    private final ByteBufAllocator copyAlloc;
    /** How many bytes a copied body's copy may hold; -1 for the other forms, and once the copy outgrew its limit. */
    private int copyLimit;
    /** A copied body's last chunk came with the copy within its limit: the copy is the whole body. */
    private boolean copiedWhole;
    /** The trailer section of a body copied whole, as its first attempt sent it; empty when it had none. */
    private HttpHeaders trailers = EmptyHttpHeaders.INSTANCE;

    private RequestBodyBuffer(ByteBuf whole, ArrayDeque<HttpContent> waiting, ByteBufAllocator copyAlloc, int copyLimit) {
        this.whole = whole;
        this.waiting = waiting;
        this.copyAlloc = copyAlloc;
        this.copyLimit = copyLimit;
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
        return new RequestBodyBuffer(buf, null, null, -1);
    }

    /** A queue for the pieces of a streamed body that come before an instance's connection is open. */
    static RequestBodyBuffer streamed() {
        return new RequestBodyBuffer(null, new ArrayDeque<>(4), null, -1);
    }

    /**
     * A queue for the pieces of a chunked body, like {@link #streamed()}, that also keeps a copy of up to {@code limit}
     * of its bytes ({@link #copy}), taken from {@code alloc} as they come.
     */
    static RequestBodyBuffer copied(ByteBufAllocator alloc, int limit) {
        return new RequestBodyBuffer(null, new ArrayDeque<>(4), alloc, limit);
    }

    /** Copies {@code data}'s readable bytes onto the whole body, growing it as needed; the caller keeps (and releases) {@code data}. */
    void append(ByteBuf data) {
        whole.writeBytes(data);
    }

    /**
     * Copies a piece of a copied body onto its copy, before the piece goes on (its reader index is left as it was; the
     * caller keeps the piece). The piece that would take the copy past its limit releases it for good; the last piece,
     * with the copy within the limit, makes it whole and keeps a copy of its trailer section (as it will be sent).
     */
    void copy(HttpContent content) {
        if (copyLimit < 0) {
            return; // outgrown, or not a copied body
        }
        ByteBuf data = content.content();
        int n = data.readableBytes();
        if (n > 0) {
            int held = whole == null ? 0 : whole.readableBytes();
            if (n > copyLimit - held) {
                copyLimit = -1; // too long to replay: the body goes on streaming, and no memory is held for it
                if (whole != null) {
                    whole.release();
                    whole = null;
                }
                return;
            }
            if (whole == null) {
                whole = copyAlloc.buffer(Math.min(copyLimit, Math.max(n, FIRST_CAPACITY)), copyLimit);
            }
            whole.writeBytes(data, data.readerIndex(), n);
        }
        if (content instanceof LastHttpContent) {
            HttpHeaders t = ((LastHttpContent) content).trailingHeaders();
            if (!t.isEmpty()) {
                trailers = t.copy();
            }
            copiedWhole = true;
        }
    }

    /** Whether a copied body came to its end with its copy within the limit: a later attempt can send it again. */
    boolean copiedWhole() {
        return copiedWhole && copyLimit >= 0;
    }

    /** The whole body (or a copied body's copy) for one attempt: a retained duplicate, released by whoever writes it. */
    ByteBuf retainedWhole() {
        return whole == null ? Unpooled.EMPTY_BUFFER : whole.retainedDuplicate();
    }

    /** The trailer section to send after the body: a copied body's, else none. */
    HttpHeaders trailers() {
        return trailers;
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

    /**
     * Releases the whole body or the copy, kept for attempts that can no longer come (the answer's head went out), and
     * takes no further copy; pieces waiting for a connection stay.
     */
    void dropReplay() {
        if (whole != null) {
            whole.release();
            whole = null;
        }
        copyLimit = -1;
        copiedWhole = false;
    }

    /** Releases what is still held: the whole body or the copy, and the waiting pieces. */
    void release() {
        if (whole != null) {
            whole.release();
            whole = null;
        }
        copyLimit = -1;
        if (waiting != null) {
            HttpContent c;
            while ((c = waiting.poll()) != null) {
                c.release();
            }
        }
    }
}

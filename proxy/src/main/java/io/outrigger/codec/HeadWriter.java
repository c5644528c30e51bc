package io.outrigger.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.AsciiString;
import io.netty.util.concurrent.FastThreadLocal;

import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Encodes a whole HTTP/1.1 message whose body is sent as it is (no {@code Transfer-Encoding}) into the
 * bytes Netty's {@code HttpObjectEncoder} writes for it, byte for byte, but assembled in a plain array
 * and copied into the outgoing buffer once. Netty's encoder writes every header through the buffer's
 * methods, each checking the buffer's bounds and reference count; on the proxy's request path the two
 * heads of every exchange (request out, response back) took a tenth of the event loop's time.
 *
 * <p>Characters are written as Netty writes them: a header name or value, a reason phrase and a version
 * one byte per character, with {@code '?'} for one above U+00FF ({@link AsciiString#c2b}); a request
 * target as UTF-8, so only a target in origin form and in ASCII (which the listeners' checks already
 * require of what they forward) is taken here. For anything else the callers use Netty's encoder:
 * {@link #request} returns false without side effects, and the response encoder does not call {@link #response}.
 *
 * <p>The array is one per event-loop thread, reused for every head; a head longer than
 * {@value #KEPT} bytes gets an array of its own that is let go. Stateless otherwise, and thread-safe.
 */
public final class HeadWriter {
    /** A body up to this many bytes goes into the head's buffer: one buffer and one copy instead of two buffers. */
    static final int MERGED_BODY = 2048;
    /** The longest scratch array kept for the next head. */
    static final int KEPT = 16 * 1024;

    private static final FastThreadLocal<byte[]> SCRATCH = new FastThreadLocal<>() {
        @Override
        protected byte[] initialValue() {
            return new byte[1024];
        }
    };

    private HeadWriter() {
    }

    /**
     * Adds {@code request}'s encoded form to {@code out} and releases it, or returns false and does
     * nothing when Netty's encoder must encode it (a target not in origin form or not ASCII).
     */
    public static boolean request(ByteBufAllocator alloc, FullHttpRequest request, List<Object> out) {
        String uri = request.uri();
        if (uri.isEmpty() || uri.charAt(0) != '/' || !ascii(uri)) {
            return false;
        }
        encode(alloc, request, request.method().asciiName(), uri, request.protocolVersion().text(), out);
        return true;
    }

    /** Adds {@code response}'s encoded form to {@code out} and releases it. */
    public static void response(ByteBufAllocator alloc, FullHttpResponse response, List<Object> out) {
        HttpResponseStatus status = response.status();
        encode(alloc, response, response.protocolVersion().text(), status.codeAsText(), status.reasonPhrase(), out);
    }

    /** Writes the start line {@code first SP second SP third CRLF}, then {@link #finish}es the message. */
    private static void encode(ByteBufAllocator alloc, FullHttpMessage msg, CharSequence first, CharSequence second,
                               CharSequence third, List<Object> out) {
        byte[] a = SCRATCH.get();
        int need = first.length() + second.length() + third.length() + 6; // with the empty line, written after the fields
        if (a.length < need) {
            a = new byte[need * 2];
        }
        int at = put(a, 0, first);
        a[at++] = ' ';
        at = put(a, at, second);
        a[at++] = ' ';
        at = put(a, at, third);
        a[at++] = '\r';
        a[at++] = '\n';
        finish(alloc, msg, a, at, out);
    }

    /** Appends the field lines and the empty line to the start line in {@code a}, then the body; hands on the bytes. */
    private static void finish(ByteBufAllocator alloc, FullHttpMessage msg, byte[] a, int at, List<Object> out) {
        try {
            HttpHeaders headers = msg.headers();
            for (Iterator<Map.Entry<CharSequence, CharSequence>> it = headers.iteratorCharSequence(); it.hasNext(); ) {
                Map.Entry<CharSequence, CharSequence> field = it.next();
                CharSequence name = field.getKey();
                CharSequence value = field.getValue();
                int end = at + name.length() + value.length() + 4;
                if (end + 2 > a.length) {
                    a = grown(a, at, end + 2);
                }
                at = put(a, at, name);
                a[at++] = ':';
                a[at++] = ' ';
                at = put(a, at, value);
                a[at++] = '\r';
                a[at++] = '\n';
            }
            a[at++] = '\r';
            a[at++] = '\n';
            ByteBuf content = msg.content();
            int body = content.readableBytes();
            boolean merged = body <= MERGED_BODY;
            if (merged) {
                // The body goes through the array too: Netty 4.2.18's pooled buffer copies from another buffer
                // through two new NIO views of them, from an array with none.
                if (at + body > a.length) {
                    a = grown(a, at, at + body);
                }
                content.getBytes(content.readerIndex(), a, at, body);
                at += body;
            }
            ByteBuf head = alloc.buffer(at);
            head.writeBytes(a, 0, at);
            if (merged) {
                out.add(head);
            } else {
                out.add(head);
                out.add(content.retain());
            }
        } finally {
            msg.release();
        }
    }

    /** A larger copy of {@code a}'s first {@code used} bytes, kept for the next head only while it is not too large. */
    private static byte[] grown(byte[] a, int used, int need) {
        byte[] b = new byte[Math.max(need, a.length * 2)];
        System.arraycopy(a, 0, b, 0, used);
        if (b.length <= KEPT) {
            SCRATCH.set(b);
        }
        return b;
    }

    private static int put(byte[] a, int at, CharSequence s) {
        int n = s.length();
        if (s instanceof AsciiString ascii) {
            System.arraycopy(ascii.array(), ascii.arrayOffset(), a, at, n);
        } else if (s instanceof String str) {
            for (int i = 0; i < n; i++) {
                a[at + i] = AsciiString.c2b(str.charAt(i));
            }
        } else {
            for (int i = 0; i < n; i++) {
                a[at + i] = AsciiString.c2b(s.charAt(i));
            }
        }
        return at + n;
    }

    private static boolean ascii(String s) {
        for (int i = 0, n = s.length(); i < n; i++) {
            if (s.charAt(i) >= 0x80) {
                return false;
            }
        }
        return true;
    }
}

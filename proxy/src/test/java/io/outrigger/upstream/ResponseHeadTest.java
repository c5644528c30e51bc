package io.outrigger.upstream;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The per-connection copy of response heads: found and checked as before, and not kept large between heads. */
class ResponseHeadTest {
    /** UpstreamCodec's limit with the default http.max_header_bytes. */
    private static final int HEAD_LIMIT = 2 * 4096 + 3 * 16384 + 4;

    @Test
    void aLongHeadsCopyIsNotKeptOnThePooledConnection() {
        ResponseHead head = new ResponseHead();
        String big = "HTTP/1.1 200 OK\r\nset-cookie: " + "a".repeat(16_000) + "\r\ncontent-length: 0\r\n\r\n";
        assertEquals(big.length() - 1, end(head, big));
        assertNull(head.problem(big.length() - 1));
        assertTrue(head.keptBytes() >= big.length(), "the long head was copied whole: " + head.keptBytes());
        head.reset();
        assertTrue(head.keptBytes() <= ResponseHead.MAX_KEPT, "kept after the long head: " + head.keptBytes());
        String small = "HTTP/1.1 204 No Content\r\nB@d: 1\r\n\r\n";
        assertEquals(small.length() - 1, end(head, small));
        assertEquals("header line 2 is not a field name (a token) followed by a colon", head.problem(small.length() - 1));
    }

    private static int end(ResponseHead head, String bytes) {
        ByteBuf in = Unpooled.copiedBuffer(bytes, StandardCharsets.US_ASCII);
        try {
            return head.end(in, HEAD_LIMIT);
        } finally {
            in.release();
        }
    }
}

package io.outrigger.http;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HopByHopHeadersTest {
    @Test
    void removesTheFixedSetInAnyCaseAndWhatConnectionNames() {
        HttpHeaders h = new DefaultHttpHeaders()
                .add("Host", "svc")
                .add("CONNECTION", "keep-alive, X-Secret , x-other")
                .add("connection", "close")
                .add("Keep-Alive", "timeout=5")
                .add("Proxy-Connection", "keep-alive")
                .add("te", "trailers")
                .add("Trailer", "x-sum")
                .add("Transfer-Encoding", "chunked")
                .add("Upgrade", "websocket")
                .add("x-secret", "1")
                .add("X-Other", "2")
                .add("X-Kept", "3")
                .add("Content-Length", "10");

        HopByHopHeaders.strip(h);

        assertEquals(List.of("Host", "X-Kept", "Content-Length"), h.names().stream().sorted((a, b) -> order(a) - order(b)).toList());
        assertEquals("svc", h.get("host"));
        assertEquals("3", h.get("x-kept"));
    }

    /**
     * A fixed hop-by-hop name goes however many lines of the others come before it: with {@code keep-alive} no longer
     * removed as a {@code Connection} option, {@code Keep-Alive} must go as one of the fixed set, whatever its place.
     */
    @Test
    void everyFixedNameGoesHoweverManyLinesComeBeforeIt() {
        HttpHeaders h = new DefaultHttpHeaders();
        for (int i = 0; i < 8; i++) {
            h.add("Connection", "keep-alive");
        }
        h.add("Keep-Alive", "timeout=5").add("X-Kept", "1");

        HopByHopHeaders.strip(h);

        assertEquals(List.of("X-Kept"), List.copyOf(h.names()));

        HttpHeaders repeated = new DefaultHttpHeaders();
        for (int i = 0; i < 8; i++) {
            repeated.add("TE", "trailers");
        }
        repeated.add("Upgrade", "h2c").add("Transfer-Encoding", "chunked").add("X-Kept", "1");

        HopByHopHeaders.strip(repeated);

        assertEquals(List.of("X-Kept"), List.copyOf(repeated.names()));
    }

    /**
     * Options are read in place from values of any type (a plain response's values are AsciiStrings): empty and
     * padded tokens, more names than the first room for them, and {@code close}, which also names a field.
     */
    @Test
    void readsEveryTokenOfValuesOfAnyType() {
        HttpHeaders h = new DefaultHttpHeaders()
                .add(AsciiString.of("Connection"), AsciiString.of(", KEEP-ALIVE,\tx-a ,, x-b,x-c,x-d,x-e,close"))
                .add("x-a", "1").add("X-B", "2").add("x-c", "3").add("x-d", "4").add("x-e", "5")
                .add("Close", "6")
                .add(AsciiString.of("X-Kept"), AsciiString.of("7"))
                .add("keep-alives", "8");

        HopByHopHeaders.strip(h);

        assertEquals(List.of("X-Kept", "keep-alives"), h.names().stream().sorted().toList());
    }

    @Test
    void aConnectionOptionCannotNameAwayTheFramingOrTheTarget() {
        HttpHeaders h = new DefaultHttpHeaders()
                .add("Host", "svc")
                .add("Connection", "Content-Length, HOST, x-gone")
                .add("Content-Length", "45")
                .add("x-gone", "1");

        HopByHopHeaders.strip(h);

        assertEquals("45", h.get("content-length"), "the body's framing stays: without it the body would be a second request");
        assertEquals("svc", h.get("host"));
        assertEquals(null, h.get("x-gone"));
        assertEquals(null, h.get("connection"));
    }

    @Test
    void leavesAMessageWithoutHopByHopHeadersAlone() {
        HttpHeaders h = new DefaultHttpHeaders().add("Host", "svc").add("Accept", "*/*").add("x-te", "no").add("tee", "no");
        HopByHopHeaders.strip(h);
        assertEquals(4, h.size());
        HttpHeaders empty = new DefaultHttpHeaders();
        HopByHopHeaders.strip(empty);
        assertTrue(empty.isEmpty());
    }

    @Test
    void recognisesExactlyTheFixedNames() {
        for (String name : new String[] {"connection", "Keep-Alive", "proxy-connection", "TE", "trailer", "transfer-encoding", "upgrade"}) {
            assertTrue(HopByHopHeaders.isFixed(name), name);
        }
        for (String name : new String[] {"connections", "keep-alives", "t", "trailers", "upgrade-insecure-requests", "content-length", ""}) {
            assertFalse(HopByHopHeaders.isFixed(name), name);
        }
    }

    private static int order(String name) {
        return switch (name.toLowerCase()) {
            case "host" -> 0;
            case "x-kept" -> 1;
            default -> 2;
        };
    }

    @Test
    void onlyChunkedReadsEveryCodingOfEveryLine() {
        assertTrue(HopByHopHeaders.onlyChunked(new DefaultHttpHeaders()), "no coding at all");
        assertTrue(HopByHopHeaders.onlyChunked(new DefaultHttpHeaders().add("Transfer-Encoding", ", CHUNKED ,")));
        assertTrue(HopByHopHeaders.onlyChunked(new DefaultHttpHeaders().add("Transfer-Encoding", "chunked").add("transfer-encoding", "chunked")));
        assertFalse(HopByHopHeaders.onlyChunked(new DefaultHttpHeaders().add("Transfer-Encoding", "gzip, chunked")));
        assertFalse(HopByHopHeaders.onlyChunked(new DefaultHttpHeaders().add("Transfer-Encoding", "chunked").add("Transfer-Encoding", "gzip")));
        assertFalse(HopByHopHeaders.onlyChunked(new DefaultHttpHeaders().add("Transfer-Encoding", "chunkeds")));
    }
}

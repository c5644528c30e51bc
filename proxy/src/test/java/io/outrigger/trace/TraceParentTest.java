package io.outrigger.trace;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TraceParentTest {
    private static final String VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    private static final Pattern UUID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");

    @Test
    void parsesAndFormatsTheW3cExample() {
        TraceParent tp = TraceParent.parse(VALID);
        assertEquals("4bf92f3577b34da6a3ce929d0e0e4736", tp.traceId());
        assertEquals("00f067aa0ba902b7", tp.parentId());
        assertEquals(1, tp.flags());
        assertEquals(VALID, tp.format());
    }

    @Test
    void childKeepsTraceIdWithANewSpan() {
        TraceParent tp = TraceParent.parse(VALID);
        TraceParent child = tp.newChild();
        assertEquals(tp.traceId(), child.traceId());
        assertNotEquals(tp.parentId(), child.parentId());
        assertEquals(tp, TraceParent.parse(tp.format()));
        assertEquals(child, TraceParent.parse(child.format()));
    }

    @Test
    void rejectsInvalidValues() {
        assertNull(TraceParent.parse(null));
        assertNull(TraceParent.parse(""));
        assertNull(TraceParent.parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"), "upper case");
        assertNull(TraceParent.parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01"), "zero trace id");
        assertNull(TraceParent.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"), "zero parent");
        assertNull(TraceParent.parse("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), "version ff");
        assertNull(TraceParent.parse(VALID + "-extra"), "version 00 has no extra fields");
        assertNull(TraceParent.parse("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    }

    @Test
    void laterVersionsAreReadByTheirFirstFields() {
        TraceParent tp = TraceParent.parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future");
        assertEquals("4bf92f3577b34da6a3ce929d0e0e4736", tp.traceId());
    }

    @Test
    void newRootsAreValidAndDistinct() {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            TraceParent tp = TraceParent.newRoot();
            assertEquals(tp, TraceParent.parse(tp.format()));
            assertTrue(seen.add(tp.traceId()));
        }
    }

    /** The HTTP edges' one-array form of a new span: the same value {@code newRoot()} and {@code newChild()} would format. */
    @Test
    void newSpansAreValidTraceparentsWithTheTraceIdAtItsOffset() {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            String root = new String(TraceParent.newSpan(null), java.nio.charset.StandardCharsets.ISO_8859_1);
            TraceParent parsed = TraceParent.parse(root);
            assertEquals(root, parsed.format(), root);
            assertEquals(1, parsed.flags(), "a new trace is sampled");
            assertEquals(parsed.traceId(), root.substring(TraceParent.TRACE_ID_OFFSET, TraceParent.TRACE_ID_OFFSET + 32));
            assertTrue(seen.add(parsed.traceId()));
        }
        TraceParent parent = TraceParent.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
        String child = new String(TraceParent.newSpan(parent), java.nio.charset.StandardCharsets.ISO_8859_1);
        TraceParent parsed = TraceParent.parse(child);
        assertEquals(parent.traceId(), parsed.traceId());
        assertNotEquals(parent.parentId(), parsed.parentId());
        assertEquals(1, parsed.flags(), "only the sampled bit is passed on");
        String unsampled = new String(TraceParent.newSpan(TraceParent.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02")),
                java.nio.charset.StandardCharsets.ISO_8859_1);
        assertTrue(unsampled.endsWith("-00"), unsampled);
        assertEquals(TraceParent.LENGTH, unsampled.length());
    }

    @Test
    void uuidsAreCanonicalVersion4AndUnique() {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 10_000; i++) {
            String id = TraceIds.randomUuid();
            assertTrue(UUID.matcher(id).matches(), id);
            assertTrue(seen.add(id));
            assertEquals(id, java.util.UUID.fromString(id).toString());
        }
    }
}

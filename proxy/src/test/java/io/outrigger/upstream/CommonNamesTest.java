package io.outrigger.upstream;

import io.netty.util.AsciiString;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

/** A common name is shared only where the instance's bytes are the constant's exactly: the case written is the case relayed. */
class CommonNamesTest {
    @Test
    void aCommonNameInEitherUsualCaseIsOneSharedConstant() {
        AsciiString first = find("xContent-Typex", 1, 12);
        assertEquals("Content-Type", first.toString());
        assertSame(first, find("Content-Type", 0, 12));
        assertEquals("content-type", find("content-type", 0, 12).toString());
        assertEquals("etag", find("etag", 0, 4).toString());
    }

    @Test
    void anyOtherCaseOrNameIsNotFound() {
        assertNull(find("Content-type", 0, 12));
        assertNull(find("CONTENT-TYPE", 0, 12));
        assertNull(find("Content-Types", 0, 13));
        assertNull(find("Content-Typ", 0, 11));
        assertNull(find("X-Custom", 0, 8));
        assertNull(find("A".repeat(200), 0, 200));
        assertNull(find("", 0, 0));
    }

    private static AsciiString find(String text, int from, int length) {
        return CommonNames.find(text.getBytes(StandardCharsets.ISO_8859_1), from, length);
    }
}

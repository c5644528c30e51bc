package io.outrigger.http;

import io.netty.handler.codec.http.HttpResponseStatus;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

class ReasonPhraseTest {
    @Test
    void keepsStandardAndCustomPhrasesHttpAllows() {
        assertSame(HttpResponseStatus.OK, ReasonPhrase.clean(HttpResponseStatus.OK));
        HttpResponseStatus custom = new HttpResponseStatus(200, "Fine\tand d\u00e9j\u00e0 vu");
        assertSame(custom, ReasonPhrase.clean(custom), "tabs and obs-text are allowed");
    }

    @Test
    void replacesAPhraseWithControlCharactersByTheStandardOne() {
        assertEquals("Not Found", ReasonPhrase.clean(new HttpResponseStatus(404, "N\u007fot Found")).reasonPhrase());
        assertEquals("OK", ReasonPhrase.clean(new HttpResponseStatus(200, "O\u0000K")).reasonPhrase());
        assertEquals(599, ReasonPhrase.clean(new HttpResponseStatus(599, "\u0001")).code());
    }
}

package io.outrigger.jsonline;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The offset in a "not valid UTF-8" reply is written in ASCII digits whatever the machine's locale. */
class JsonUtf8LocaleTest {
    @Test
    void theOffsetOfABadByteIsInAsciiDigitsInAnyLocale() {
        Locale before = Locale.getDefault();
        ByteBuf line = Unpooled.buffer();
        line.writeBytes("{\"id\": 1234567890}".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).writeByte(0xFF);
        try {
            Locale.setDefault(Locale.forLanguageTag("th-TH-u-nu-thai")); // a locale whose digits are not 0-9
            assertEquals("byte 0xFF at offset 18", Json.utf8(line).error());
        } finally {
            Locale.setDefault(before);
            line.release();
        }
    }
}

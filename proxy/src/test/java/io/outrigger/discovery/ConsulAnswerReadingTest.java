package io.outrigger.discovery;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** How a registry answer's body is read, and how the outage WARN words one that cannot be. */
class ConsulAnswerReadingTest {

    @Test
    void anEmptyAnswerIsCalledEmpty() {
        // A 200 with no body: the WARN said "health of b:  (expected: an array)".
        assertEquals("empty", assertThrows(IllegalArgumentException.class, () -> ConsulRegistry.readAnswer("")).getMessage());
        assertEquals("empty", assertThrows(IllegalArgumentException.class, () -> ConsulRegistry.readAnswer(" \n")).getMessage());
    }

    @Test
    void jsonIsRead() throws Exception {
        assertTrue(ConsulRegistry.readAnswer("{\"b\": []}").has("b"));
    }
}

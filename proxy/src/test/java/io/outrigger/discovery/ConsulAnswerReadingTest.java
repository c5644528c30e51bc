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
    void anAnswerThatIsNotJsonIsOneLineWithWhereItBroke() {
        // Jackson's message spans two lines and names "[Source: REDACTED (...)...]" twice: the outage WARN took them all.
        assertEquals("not JSON: Unexpected end-of-input: expected close marker for Array"
                        + " (start marker at [line: 1, column: 15]) (line 1, column 16)",
                assertThrows(IllegalArgumentException.class, () -> ConsulRegistry.readAnswer("{\"service-b\": [")).getMessage());
        String garbage = assertThrows(IllegalArgumentException.class, () -> ConsulRegistry.readAnswer("<html>oops</html>")).getMessage();
        assertTrue(garbage.startsWith("not JSON: Unexpected character ('<'") && garbage.endsWith("(line 1, column 1)")
                && !garbage.contains("\n") && !garbage.contains("Source"), garbage);
    }

    @Test
    void jsonIsRead() throws Exception {
        assertTrue(ConsulRegistry.readAnswer("{\"b\": []}").has("b"));
    }
}

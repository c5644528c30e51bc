package io.outrigger.jsonline;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ClassPreloaderTest {

    /** A stale list only costs start-up time, silently: this keeps it honest (regenerate with src/appcds/update-preload-list.sh). */
    @Test
    void everyListedClassExists() throws IOException {
        InputStream in = ClassPreloader.class.getResourceAsStream(ClassPreloader.LIST);
        assertNotNull(in, "the preload list is missing from the jar");
        List<String> missing = new ArrayList<>();
        int count = 0;
        try (BufferedReader names = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String name = names.readLine(); name != null; name = names.readLine()) {
                count++;
                try {
                    Class.forName(name, false, ClassPreloader.class.getClassLoader());
                } catch (ClassNotFoundException e) {
                    missing.add(name);
                }
            }
        }
        assertTrue(count > 100, "only " + count + " classes listed");
        assertEquals(List.of(), missing, "classes in " + ClassPreloader.LIST + " that no longer exist");
    }

    @Test
    void preloadingRunsWithoutFailing() {
        assertDoesNotThrow(() -> new ClassPreloader().run());
    }
}

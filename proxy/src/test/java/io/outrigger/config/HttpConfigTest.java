package io.outrigger.config;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HttpConfigTest {

    @Test
    void defaultsAvoidPoolChurnAndLogEveryRequest() throws Exception {
        SidecarConfig.Http http = ConfigLoader.parse("", "t.yaml").http();
        assertEquals(256, http.poolMaxIdle(), "well above the 64 client connections of the benchmark");
        assertTrue(http.accessLog());
    }

    @Test
    void theDocumentedExampleSpellsOutTheDefaults() throws Exception {
        SidecarConfig.Http http = ConfigLoader.load(Path.of("../config/sidecar.yaml")).http();
        assertEquals(SidecarConfig.defaults().http().poolMaxIdle(), http.poolMaxIdle());
        assertTrue(http.accessLog());
    }

    @Test
    void accessLogCanBeTurnedOff() throws Exception {
        assertFalse(ConfigLoader.parse("http: { access_log: false }\n", "t.yaml").http().accessLog());
    }

    @Test
    void accessLogMustBeABoolean() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse("http: { access_log: maybe }\n", "t.yaml"));
        assertEquals("t.yaml: http.access_log: \"maybe\" (expected: true or false)", e.getMessage());
    }
}

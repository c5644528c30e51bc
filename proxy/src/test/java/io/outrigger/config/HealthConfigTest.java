package io.outrigger.config;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class HealthConfigTest {

    @Test
    void defaultsFollowTheBreakerThreshold() throws Exception {
        SidecarConfig.Health h = ConfigLoader.parse("resilience: {breaker: {failure_threshold: 7}}", "t.yaml").health();
        assertEquals(new SidecarConfig.Health(0, "/health", 3, 1, 1000, 7, 30_000, 300_000, 50), h);
        assertEquals(SidecarConfig.defaults().health(), ConfigLoader.parse("", "t.yaml").health());
    }

    @Test
    void theDocumentedExampleLoads() throws Exception {
        SidecarConfig.Health h = ConfigLoader.load(Path.of("..", "config", "sidecar.yaml")).health();
        assertEquals(new SidecarConfig.Health(5000, "/health", 3, 1, 1000, 5, 30_000, 300_000, 50), h);
    }

    @Test
    void badValuesNameTheKey() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("health: {max_ejected_percent: 150}", "t.yaml"));
        assertEquals("t.yaml: health.max_ejected_percent: 150 (expected: an integer in 0..100)", e.getMessage());
        e = assertThrows(ConfigException.class, () -> ConfigLoader.parse("health: {ejection_ms: 1000, max_ejection_ms: 10}", "t.yaml"));
        assertEquals("t.yaml: health.max_ejection_ms: 10 (expected: an integer >= 1000)", e.getMessage());
    }

    @Test
    void aCheckIntervalIsOffOrAtLeastFiftyMilliseconds() throws Exception {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse("health: {interval_ms: 1}", "t.yaml"));
        assertEquals("t.yaml: health.interval_ms: 1 (expected: 0 (off) or at least 50)", e.getMessage());
        assertThrows(ConfigException.class, () -> ConfigLoader.parse("health: {interval_ms: 49}", "t.yaml"));
        assertEquals(50, ConfigLoader.parse("health: {interval_ms: 50}", "t.yaml").health().intervalMillis());
        assertEquals(0, ConfigLoader.parse("health: {interval_ms: 0}", "t.yaml").health().intervalMillis());
    }

    @Test
    void aCheckPathMustBeSendableInARequestLine() throws Exception {
        // A space would split the check's request line: every instance answers 400 and all are taken out.
        for (String bad : new String[] {"\"/he alth\"", "\"/health\\t\"", "\"/h#x\"", "\"/h%zz\"", "health"}) {
            ConfigException e = assertThrows(ConfigException.class,
                    () -> ConfigLoader.parse("health: {interval_ms: 100, path: " + bad + "}", "t.yaml"), bad);
            assertEquals(true, e.getMessage().startsWith("t.yaml: health.path: "), e.getMessage());
            assertEquals(true, e.getMessage().endsWith("(expected: a path starting with /, of URI characters only (no spaces))"),
                    e.getMessage());
        }
        assertEquals("/healthz?deep=1&x=%2F", ConfigLoader.parse("health: {path: \"/healthz?deep=1&x=%2F\"}", "t.yaml").health().path());
        assertEquals("/", ConfigLoader.parse("health: {path: /}", "t.yaml").health().path());
    }
}

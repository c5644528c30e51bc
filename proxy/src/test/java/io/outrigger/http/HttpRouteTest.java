package io.outrigger.http;

import io.outrigger.SidecarContext;
import io.outrigger.config.ConfigLoader;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.time.Ticker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Via carries the sidecar's name unvalidated (OwnHeaderValues): a route refuses a name that is not a token, however the config was made. */
class HttpRouteTest {
    @TempDir
    Path dir;

    @Test
    void aNameThatIsNotATokenIsRefusedEvenWhenTheConfigLoaderWasBypassed() throws Exception {
        Path registry = dir.resolve("registry.json");
        Files.writeString(registry, "{\"services\": {}}");
        SidecarConfig cfg = ConfigLoader.parse("name: edge-1\nservice: a\nregistry: file:" + registry + "\nhealth: { interval_ms: 0 }\n"
                + "http: { access_log: false }\n", "test");
        assertEquals("1.1 edge-1", HttpRoute.outbound(new SidecarContext(cfg, FileRegistry.load(registry), Ticker.system())).via().toString());
        SidecarConfig injected = new SidecarConfig("edge\r\nX-Injected: 1", cfg.service(), cfg.registry(), cfg.bindAddress(), cfg.listeners(),
                cfg.resilience(), cfg.http(), cfg.health(), cfg.drainMillis(), cfg.ioThreads(), cfg.maxConnections());
        SidecarContext context = new SidecarContext(injected, FileRegistry.load(registry), Ticker.system());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HttpRoute.outbound(context));
        assertTrue(e.getMessage().startsWith("name: "), e.getMessage());
    }
}

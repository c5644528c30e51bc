package io.outrigger.discovery;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FileRegistryTest {

    @Test
    void embeddedDefaultIsTheConfigFile() throws Exception {
        FileRegistry embedded = FileRegistry.embedded();
        assertEquals(List.of(new Endpoint("10.0.1.1", 8080), new Endpoint("10.0.1.2", 8080)), embedded.endpoints("service-b"));
        assertEquals(FileRegistry.load(Path.of("../config/registry.json")).endpoints("service-b"), embedded.endpoints("service-b"));
        assertTrue(embedded.contains("service-b"));
        assertFalse(embedded.contains("service-z"));
        assertEquals(List.of(), embedded.endpoints("service-z"));
    }

    @Test
    void clearErrors(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("r.json");
        Files.writeString(f, "{\"services\": {\"s\": [{\"host\": \"h\", \"port\": \"x\"}]}}");
        RegistryException e = assertThrows(RegistryException.class, () -> FileRegistry.load(f));
        assertEquals("file:" + f + ": services.s[0]: {\"host\":\"h\",\"port\":\"x\"} (expected: {\"host\": string, \"port\": integer})", e.getMessage());
        Files.writeString(f, "{\"services\": {\"s\": [{\"host\": \"h\", \"port\": 70000}]}}");
        e = assertThrows(RegistryException.class, () -> FileRegistry.load(f));
        assertEquals("file:" + f + ": services.s[0].port: 70000 (expected: 1..65535)", e.getMessage());
        Files.writeString(f, "not json");
        e = assertThrows(RegistryException.class, () -> FileRegistry.load(f));
        assertTrue(e.getMessage().startsWith("file:" + f + ": not valid JSON"), e.getMessage());
        e = assertThrows(RegistryException.class, () -> FileRegistry.load(dir.resolve("missing.json")));
        assertEquals("registry file " + dir.resolve("missing.json") + ": not found", e.getMessage());
    }

    @Test
    void endpointParsing() {
        assertEquals(new Endpoint("127.0.0.1", 80), Endpoint.parse("127.0.0.1:80"));
        assertThrows(IllegalArgumentException.class, () -> Endpoint.parse("127.0.0.1"));
        assertThrows(IllegalArgumentException.class, () -> Endpoint.parse(":80"));
        assertThrows(IllegalArgumentException.class, () -> Endpoint.parse("h:x"));
    }
}

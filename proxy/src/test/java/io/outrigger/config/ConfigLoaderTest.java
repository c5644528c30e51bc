package io.outrigger.config;

import io.outrigger.discovery.Endpoint;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConfigLoaderTest {

    @Test
    void emptyDocumentGivesEveryDefault() throws Exception {
        SidecarConfig c = ConfigLoader.parse("", "t.yaml");
        assertEquals(SidecarConfig.defaults(), c);
        assertNull(c.listeners().admin(), "a listener left out is not opened");
        assertEquals(5, c.resilience().breaker().failureThreshold());
        assertEquals(65_536, c.http().retryBufferBytes());
    }

    @Test
    void theDocumentedExampleLoads() throws Exception {
        SidecarConfig c = ConfigLoader.load(Path.of("../config/sidecar.yaml"));
        assertEquals("sidecar-a", c.name());
        assertEquals("service-a", c.service());
        assertEquals("file:config/registry.json", c.registry());
        assertEquals(15000, c.listeners().admin().port());
        assertEquals(15001, c.listeners().outbound().port());
        assertEquals(new Endpoint("127.0.0.1", 8080), c.listeners().inbound().app());
        assertEquals(15020, c.listeners().jsonline().port());
        assertEquals("service-c", c.listeners().tcp().get(0).service());
        assertEquals(30_000, c.resilience().breaker().openMillis());
        assertEquals(250, c.resilience().retry().maxMillis());
        assertTrue(c.resilience().retry().fullJitter());
        assertEquals(15_000, c.resilience().timeouts().requestMillis());
        assertEquals(0, c.resilience().timeouts().readMillis(), "no read timeout of its own unless set");
    }

    @Test
    void partialSectionsKeepOtherDefaults() throws Exception {
        SidecarConfig c = ConfigLoader.parse("resilience:\n  breaker: { failure_threshold: 3 }\n  retry: { jitter: none }\n", "t.yaml");
        assertEquals(3, c.resilience().breaker().failureThreshold());
        assertEquals(30_000, c.resilience().breaker().openMillis());
        assertEquals(false, c.resilience().retry().fullJitter());
        assertEquals(2, c.resilience().retry().maxRetries());
    }

    @Test
    void errorsNameFileKeyValueAndExpectation() {
        assertError("t.yaml: listeners.admin.port: -1 (expected: an integer in 0..65535)", "listeners:\n  admin: { port: -1 }\n");
        assertError("t.yaml: listeners.outbound.port: \"x\" (expected: an integer in 0..65535)", "listeners:\n  outbound: { port: x }\n");
        assertError("t.yaml: resilience.breaker.failure_threshold: 0 (expected: an integer >= 1)", "resilience:\n  breaker: { failure_threshold: 0 }\n");
        assertError("t.yaml: resilience.retry.jitter: \"some\" (expected: one of full, none)", "resilience:\n  retry: { jitter: some }\n");
        assertError("t.yaml: resilience.timeouts.read_ms: -5 (expected: an integer >= 0)", "resilience:\n  timeouts: { read_ms: -5 }\n");
        assertError("t.yaml: listeners.inbound.app: \"nohost\" (expected: host:port)", "listeners:\n  inbound: { port: 1, app: nohost }\n");
        // A bare port was "expected: a non-empty string", which says nothing of the host:port it needs.
        assertError("t.yaml: listeners.inbound.app: 8080 (expected: host:port)", "listeners:\n  inbound: { port: 1, app: 8080 }\n");
        assertError("t.yaml: listeners.tcp[0].service: missing (expected: a service name)", "listeners:\n  tcp: [ { port: 1 } ]\n");
        // service/host:port keys an instance's breaker: a '/' in a service name gave it wrong labels in /metrics and /clusters.
        assertError("t.yaml: listeners.tcp[0].service: \"a/b\" (expected: a service name without '/')",
                "listeners:\n  tcp: [ { port: 1, service: a/b } ]\n");
        assertError("t.yaml: service: \"a/b\" (expected: a service name without '/')", "service: a/b\n");
        assertError("t.yaml: listeners.tcp[2].port: 0 (expected: a port other than 0: listeners.tcp[0] already relays svc on port 0)",
                "listeners:\n  tcp: [ { port: 0, service: svc }, { port: 0, service: other }, { port: 0, service: svc } ]\n");
        assertError("t.yaml: registry: \"consul\" (expected: file:PATH, http://HOST:PORT or embedded)", "registry: consul\n");
    }

    @Test
    void aListenerNamedWithoutItsPortGetsTheDocumentedPort() throws Exception {
        SidecarConfig c = ConfigLoader.parse("listeners:\n  admin: {}\n  outbound: {}\n  inbound: {}\n  jsonline: {}\n", "t.yaml");
        assertEquals(15000, c.listeners().admin().port());
        assertEquals(15001, c.listeners().outbound().port());
        assertEquals(15006, c.listeners().inbound().port());
        assertEquals(new Endpoint("127.0.0.1", 8080), c.listeners().inbound().app());
        assertEquals(15020, c.listeners().jsonline().port());
        assertTrue(c.listeners().tcp().isEmpty());
    }

    @Test
    void theJsonLineListenerHasAnIdleTimeoutLikeTheHttpOne() throws Exception {
        assertEquals(60_000, ConfigLoader.parse("listeners:\n  jsonline: {}\n", "t.yaml").listeners().jsonline().idleTimeoutMillis());
        assertEquals(0, ConfigLoader.parse("listeners:\n  jsonline: { idle_timeout_ms: 0 }\n", "t.yaml").listeners().jsonline().idleTimeoutMillis(),
                "0 = never");
        assertError("t.yaml: listeners.jsonline.idle_timeout_ms: -1 (expected: an integer >= 0)",
                "listeners:\n  jsonline: { idle_timeout_ms: -1 }\n");
        assertError("t.yaml: listeners.jsonline.idle: unknown key (expected one of: port, idle_timeout_ms)",
                "listeners:\n  jsonline: { idle: 5 }\n");
    }

    @Test
    void aTcpListenerMayHaveNoIdleTimeout() throws Exception {
        SidecarConfig c = ConfigLoader.parse("listeners:\n  tcp: [ { port: 0, service: svc, idle_timeout_ms: 0 } ]\n", "t.yaml");
        assertEquals(0, c.listeners().tcp().get(0).idleTimeoutMillis(), "0 = none, as documented");
    }

    @Test
    void unknownKeysAreErrorsNotSilentDefaults() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse("resilience:\n  breaker: { failure_treshold: 3 }\n", "t.yaml"));
        assertEquals("t.yaml: resilience.breaker.failure_treshold: unknown key (expected one of: failure_threshold, open_ms, half_open_probes)", e.getMessage());
    }

    @Test
    void retryMaxBelowBaseIsRejected() {
        assertError("t.yaml: resilience.retry.max_ms: 10 (expected: an integer >= 100)", "resilience:\n  retry: { base_ms: 100, max_ms: 10 }\n");
    }

    @Test
    void aBaseAboveTheDefaultMaxGivenAloneRaisesTheMax() throws Exception {
        SidecarConfig c = ConfigLoader.parse("resilience:\n  retry: { base_ms: 400 }\n", "t.yaml");
        assertEquals(400, c.resilience().retry().maxMillis(), "documented: max_ms follows a larger base_ms when not given");
        assertEquals(250, ConfigLoader.parse("resilience:\n  retry: { base_ms: 100 }\n", "t.yaml").resilience().retry().maxMillis());
    }

    @Test
    void aListenerSetToNullIsNotOpened() throws Exception {
        SidecarConfig c = ConfigLoader.parse("listeners:\n  admin: ~\n  outbound: null\n  jsonline: {}\n", "t.yaml");
        assertNull(c.listeners().admin(), "documented: null means not set, so not opened");
        assertNull(c.listeners().outbound());
        assertEquals(15020, c.listeners().jsonline().port());
        // "admin:" with nothing after it is an empty string to the YAML parser: refused, with the way out named.
        assertError("t.yaml: listeners.admin: no value (expected: a mapping; {} opens it on port 15000, ~ leaves it closed)",
                "listeners:\n  admin:\n");
        assertError("t.yaml: listeners.jsonline: no value (expected: a mapping; {} opens it on port 15020, ~ leaves it closed)",
                "listeners:\n  jsonline:\n");
        assertError("t.yaml: listeners.inbound: 8080 (expected: a mapping; {} opens it on port 15006, ~ leaves it closed)",
                "listeners:\n  inbound: 8080\n");
    }

    @Test
    void notYamlOrNotAMapping() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse("a: [1, 2\n", "t.yaml"));
        assertTrue(e.getMessage().startsWith("t.yaml: not valid YAML"), e.getMessage());
        assertError("t.yaml: the document is array (expected: a mapping of keys)", "- 1\n- 2\n");
    }

    /** The kind of a document that is no mapping is named in English on any machine: "string", not Turkish "strıng". */
    @Test
    void theKindOfADocumentIsNamedTheSameInAnyLocale() {
        java.util.Locale before = java.util.Locale.getDefault();
        try {
            java.util.Locale.setDefault(java.util.Locale.forLanguageTag("tr-TR"));
            assertError("t.yaml: the document is string (expected: a mapping of keys)", "just text\n");
        } finally {
            java.util.Locale.setDefault(before);
        }
    }

    @Test
    void aYamlSyntaxErrorIsOneLineWithoutTheParsersPicture() {
        assertError("t.yaml: not valid YAML at line 4 (while parsing a block mapping at line 3, column 3; "
                + "expected <block end>, but found '<block mapping start>' at line 4, column 4)",
                "name: a\nlisteners:\n  admin: { port: 1 }\n   outbound: { port: 2 }\n");
    }

    @Test
    void aYamlSyntaxErrorNamesTheLineOfTheMistakeNotOfTheLastGoodValue() {
        // Was "at line 3": the parser's last token, above the blank lines, not the tab that cannot start a token.
        assertError("t.yaml: not valid YAML at line 6 (while scanning for the next token; found character '\\t(TAB)' that cannot"
                + " start any token. (Do not use \\t(TAB) for indentation) at line 6, column 1)",
                "name: a\nhttp:\n  max_body_bytes: 5\n\n\n\tidle_timeout_ms: 5\n");
    }

    @Test
    void aMisindentedLineIsTheLineNamedNotTheStartOfItsBlock() {
        // Was "at line 1" (where the document's mapping began) and "at line 3", lines above the mistake.
        assertError("t.yaml: not valid YAML at line 5 (while parsing a block mapping at line 1, column 1; "
                        + "expected <block end>, but found '-' at line 5, column 1)",
                "name: a\nlisteners:\n  admin: { port: 1 }\nhttp: { idle_timeout_ms: 5 }\n- oops\n");
        assertError("t.yaml: not valid YAML at line 6 (while parsing a block mapping at line 3, column 3; "
                        + "expected <block end>, but found '<block mapping start>' at line 6, column 4)",
                "name: a\nresilience:\n  retry:\n    max_retries: 2\n  timeouts: { connect_ms: 5 }\n   other: 1\n");
        // An unclosed bracket or quote: the line where it opened, not the one where the parser gave up on it.
        assertError("t.yaml: not valid YAML at line 2 (while scanning a quoted scalar at line 2, column 7; "
                        + "found unexpected end of stream at line 4, column 1)",
                "name: a\nhttp: \"x\n\n");
    }

    @Test
    void missingFile() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(Path.of("/nonexistent/x.yaml")));
        assertEquals("/nonexistent/x.yaml: file not found", e.getMessage());
    }

    @Test
    void anUnreadableFileSaysPermissionDenied(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path file = java.nio.file.Files.writeString(dir.resolve("secret.yaml"), "name: x\n");
        java.nio.file.Files.setPosixFilePermissions(file, java.util.Set.of());
        if (java.nio.file.Files.isReadable(file)) {
            file = Path.of("/proc/1/mem"); // root reads any mode-000 file; not this one (ptrace rules)
        }
        Path unreadable = file;
        try (java.io.InputStream in = java.nio.file.Files.newInputStream(unreadable)) {
            org.junit.jupiter.api.Assumptions.abort("no unreadable file on this system");
        } catch (java.nio.file.AccessDeniedException expected) {
            // as wanted
        }
        // Was "secret.yaml: cannot read (secret.yaml)": the JDK's message for EACCES is the path alone.
        assertEquals(unreadable + ": permission denied",
                assertThrows(ConfigException.class, () -> ConfigLoader.load(unreadable)).getMessage());
    }

    @Test
    void aFileFarLargerThanAnyConfigIsRefusedWithoutReadingItAll(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path huge = dir.resolve("huge.yaml");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(huge.toFile(), "rw")) {
            f.setLength(ConfigLoader.MAX_FILE_BYTES + 1); // sparse: costs no disk
        }
        // Read whole, /dev/zero or a multi-GB log named by mistake ended in an OutOfMemoryError stack trace.
        assertEquals(huge + ": larger than 16 MiB (expected: a YAML config file)",
                assertThrows(ConfigException.class, () -> ConfigLoader.load(huge)).getMessage());
    }

    @Test
    void aFileThatIsNoYamlTextSaysWhat(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        assertEquals(dir + ": a directory (expected: a YAML file)",
                assertThrows(ConfigException.class, () -> ConfigLoader.load(dir)).getMessage());
        assertEquals("--config: an empty path (expected: a YAML file)",
                assertThrows(ConfigException.class, () -> ConfigLoader.load(Path.of(""))).getMessage());
        Path latin1 = java.nio.file.Files.write(dir.resolve("l.yaml"), new byte[] {'n', 'a', 'm', 'e', ':', ' ', (byte) 0xe9, '\n'});
        assertEquals(latin1 + ": not UTF-8 text (expected: a YAML file in UTF-8)",
                assertThrows(ConfigException.class, () -> ConfigLoader.load(latin1)).getMessage());
    }

    @Test
    void whatTheParserWouldSilentlyDropIsAnError() throws Exception {
        ConfigException dup = assertThrows(ConfigException.class, () -> ConfigLoader.parse("name: a\nname: b\n", "t.yaml"));
        assertTrue(dup.getMessage().startsWith("t.yaml: not valid YAML at line 2") && dup.getMessage().contains("Duplicate field 'name'"),
                dup.getMessage());
        assertError("t.yaml: more than one YAML document (expected: one; the sidecar would read only the first)",
                "name: a\n---\ndrain_ms: 1\n");
        assertEquals("x", ConfigLoader.parse("---\nname: x\n---\n", "t.yaml").name(), "empty documents around it lose nothing");
        assertEquals("x", ConfigLoader.parse("name: x\n...\n", "t.yaml").name());
    }

    @Test
    void boundsThatKeepTheSidecarManageable() throws Exception {
        assertError("t.yaml: drain_ms: 99999999999 (expected: an integer in 0..3600000)", "drain_ms: 99999999999\n");
        // 0 would re-grant half-open probes at once, so a breaker would let every call through.
        assertError("t.yaml: resilience.breaker.open_ms: 0 (expected: an integer >= 1)",
                "resilience:\n  breaker: { open_ms: 0 }\n");
        assertEquals(1000, ConfigLoader.parse("health: { interval_ms: 1000, timeout_ms: 5000 }\n", "t.yaml").health().timeoutMillis(),
                "capped at the interval, as the checker caps it: /config shows the timeout in force");
        assertEquals(500, ConfigLoader.parse("health: { interval_ms: 500 }\n", "t.yaml").health().timeoutMillis(),
                "the default timeout shrinks to the interval");
        assertEquals(1000, ConfigLoader.parse("health: { interval_ms: 5000 }\n", "t.yaml").health().timeoutMillis());
    }

    /** The name goes into every Via header: a line break there made every forwarded request fail without an answer. */
    @Test
    void theNameIsAnHttpTokenSinceItIsSentInVia() throws Exception {
        String expected = " (expected: an HTTP token such as sidecar-a (letters, digits and !#$%&'*+-.^_`|~): it is sent in Via)";
        assertError("t.yaml: name: \"bad\\r\\nX-Injected: 1\"" + expected, "name: \"bad\\r\\nX-Injected: 1\"\n");
        assertError("t.yaml: name: \"my sidecar\"" + expected, "name: my sidecar\n");
        assertError("t.yaml: name: \"a,b\"" + expected, "name: \"a,b\"\n");
        assertEquals("sidecar-b1", ConfigLoader.parse("name: sidecar-b1\n", "t.yaml").name());
        assertEquals("edge_1.x~", ConfigLoader.parse("name: edge_1.x~\n", "t.yaml").name());
    }

    private static void assertError(String expected, String yaml) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml, "t.yaml"));
        assertEquals(expected, e.getMessage());
    }
}

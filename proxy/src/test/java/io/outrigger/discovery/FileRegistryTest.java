package io.outrigger.discovery;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

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
        assertEquals("registry file " + f + ": services.s[0]: {\"host\":\"h\",\"port\":\"x\"} (expected: {\"host\": string, \"port\": integer})", e.getMessage());
        Files.writeString(f, "{\"services\": {\"s\": [{\"host\": \"h\", \"port\": 70000}]}}");
        e = assertThrows(RegistryException.class, () -> FileRegistry.load(f));
        assertEquals("registry file " + f + ": services.s[0].port: 70000 (expected: 1..65535)", e.getMessage());
        Files.writeString(f, "{\"services\": {\"s\": [{\"host\": \"h\", \"port\": 1}, {\"host\": \"h\", \"port\": 1}]}}");
        assertEquals(List.of(new Endpoint("h", 1), new Endpoint("h", 1)), FileRegistry.load(f).endpoints("s"),
                "an instance listed twice is kept (a WARN says so): files that weight an instance that way still load");
        Files.writeString(f, "{\"services\": {\"s\": [{\"host\": \"not a host!\", \"port\": 1}]}}");
        e = assertThrows(RegistryException.class, () -> FileRegistry.load(f));
        assertEquals("registry file " + f + ": services.s[0].host: not a host! (expected: a host name or IP address)", e.getMessage());
        Files.writeString(f, "{\"services\": {\"\": [{\"host\": \"h\", \"port\": 1}]}}");
        e = assertThrows(RegistryException.class, () -> FileRegistry.load(f));
        assertEquals("registry file " + f + ": services: \"\" (expected: a service name, not empty)", e.getMessage());
        Files.writeString(f, "{\"services\": {\"a/b\": [{\"host\": \"h\", \"port\": 1}]}}");
        e = assertThrows(RegistryException.class, () -> FileRegistry.load(f));
        assertEquals("registry file " + f + ": services: \"a/b\" (expected: a service name without '/')", e.getMessage(),
                "service/host:port keys an instance's breaker: such a name got wrong labels in /metrics and /clusters");
        Files.writeString(f, "{\"services\": {");
        e = assertThrows(RegistryException.class, () -> FileRegistry.load(f));
        assertEquals("registry file " + f + ": not valid JSON at line 1, column 15 (Unexpected end-of-input: expected close marker"
                + " for Object (start marker at [line: 1, column: 14]))", e.getMessage());
        Files.writeString(f, "not json");
        e = assertThrows(RegistryException.class, () -> FileRegistry.load(f));
        assertTrue(e.getMessage().startsWith("registry file " + f + ": not valid JSON"), e.getMessage());
        e = assertThrows(RegistryException.class, () -> FileRegistry.load(dir.resolve("missing.json")));
        assertEquals("registry file " + dir.resolve("missing.json") + ": not found", e.getMessage());
        e = assertThrows(RegistryException.class, () -> FileRegistry.load(Path.of("no-such-dir/registry.json")));
        assertEquals("registry file no-such-dir/registry.json: not found (relative to the working directory: "
                + Path.of("").toAbsolutePath().resolve("no-such-dir/registry.json") + ")", e.getMessage());
        e = assertThrows(RegistryException.class, () -> FileRegistry.load(dir));
        assertEquals("registry file " + dir + ": is a directory (expected: a JSON file)", e.getMessage());
        // file: with nothing after it (or stdin --registry=): not "registry file : is a directory" (the working directory).
        e = assertThrows(RegistryException.class, () -> FileRegistry.load(Path.of("")));
        assertEquals("registry file: an empty path (expected: a JSON file)", e.getMessage());
    }

    @Test
    void aFileFarLargerThanAnyRegistryIsRefusedWithoutReadingItAll(@TempDir Path dir) throws Exception {
        Path huge = dir.resolve("huge.json");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(huge.toFile(), "rw")) {
            f.setLength(FileRegistry.MAX_FILE_BYTES + 1); // sparse: costs no disk
        }
        // Read whole, file:/dev/zero or a multi-GB file named by mistake ended in an OutOfMemoryError stack trace.
        assertEquals("registry file " + huge + ": larger than 16 MiB (expected: a JSON file)",
                assertThrows(RegistryException.class, () -> FileRegistry.load(huge)).getMessage());
    }

    /** The streaming parser gives what the former tree-based one (below, with databind) gave: the same registry or the same message. */
    @Test
    void streamingParserMatchesTheTreeReading() throws Exception {
        List<String> inputs = List.of(
                "{\"services\": {\"b\": [{\"host\": \"h1\", \"port\": 1}, {\"port\": 2, \"host\": \"h2\", \"x\": [1, {\"y\": null}]}], \"c\": []}}",
                "{\"other\": {\"a\": [1, 2]}, \"services\": {\"b\": [{\"host\": \"h\", \"port\": 8080.7}]}}",
                "{\"services\": {\"b\": [{\"host\": \"h\", \"port\": 1, \"host\": \"later\"}]}}",
                "{\"services\": {\"b\": 5, \"b\": [{\"host\": \"h\", \"port\": 3}]}}",
                "{\"services\": {\"b\": [{\"host\": \"h\", \"port\": 3}], \"b\": {\"k\": [true, \"\\u00e9\"]}}}",
                "{\"services\": {\"b\": [{\"host\": \"h\", \"port\": 3}]}, \"services\": 7}",
                "{\"services\": {\"a\": [{\"host\": 1, \"port\": 3}], \"b\": [\"x\"]}}",
                "{\"services\": {\"a\": [{\"host\": \"h\", \"port\": 3}, [1, 2.5, -0.0, 1e3, 12345678901234567890]]}}",
                "{\"services\": {\"a\": [{\"host\": \"\", \"port\": 3}]}}",
                "{\"services\": {\"a\": [{\"host\": \"h\", \"port\": 0}, {\"host\": 2}]}}",
                "{\"services\": {\"a\": [{\"host\": \"h\", \"port\": 4294967297}]}}",
                "{\"services\": {\"a\": [{\"host\": null, \"port\": 1}]}}",
                "{\"services\": {\"a\": [{\"host\": \"h\", \"port\": 1}]}, \"tail\": [1, 2",
                "{\"services\": {\"a\": [{\"host\": 1, \"port\": 1}]}, \"tail\": nope}",
                "{\"services\": {}} trailing",
                "{\"services\": []}",
                "[{\"services\": {}}]",
                "42",
                "",
                "   ",
                "{\"services\": {\"a\": [{\"host\": \"h\", \"port\": 1}]}}");
        for (String input : inputs) {
            assertEquals(treeOutcome(input), outcome(input), input);
        }
    }

    private static String outcome(String json) throws Exception {
        try {
            FileRegistry r = FileRegistry.parse(new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)), "t");
            return r.services().stream().map(s -> s + "=" + r.endpoints(s)).toList().toString();
        } catch (RegistryException e) {
            return "error: " + e.getMessage();
        }
    }

    /** The former implementation, on a databind tree. */
    private static String treeOutcome(String json) throws Exception {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)));
        } catch (JsonProcessingException e) {
            return "error: t: not valid JSON at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr()
                    + " (" + e.getOriginalMessage().replaceAll("\\[Source: [^;\\]]*\\); ", "[") + ")";
        }
        JsonNode svcs = root == null ? null : root.get("services");
        if (svcs == null || !svcs.isObject()) {
            return "error: t: services: missing (expected: an object of service name to instance list)";
        }
        List<String> services = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = svcs.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = "services." + e.getKey();
            if (!e.getValue().isArray()) {
                return "error: t: " + key + ": " + e.getValue() + " (expected: an array of {host, port})";
            }
            List<Endpoint> list = new ArrayList<>();
            int i = 0;
            for (JsonNode inst : e.getValue()) {
                JsonNode host = inst.get("host");
                JsonNode port = inst.get("port");
                if (host == null || !host.isTextual() || port == null || !port.canConvertToInt()) {
                    return "error: t: " + key + "[" + i + "]: " + inst + " (expected: {\"host\": string, \"port\": integer})";
                }
                try {
                    list.add(new Endpoint(host.asText(), port.asInt()));
                } catch (IllegalArgumentException ex) {
                    return "error: t: " + key + "[" + i + "]." + ex.getMessage();
                }
                i++;
            }
            services.add(e.getKey() + "=" + list);
        }
        return services.toString();
    }

    @Test
    void endpointParsing() {
        assertEquals(new Endpoint("127.0.0.1", 80), Endpoint.parse("127.0.0.1:80"));
        assertThrows(IllegalArgumentException.class, () -> Endpoint.parse("127.0.0.1"));
        assertThrows(IllegalArgumentException.class, () -> Endpoint.parse(":80"));
        assertThrows(IllegalArgumentException.class, () -> Endpoint.parse("h:x"));
        assertEquals(new Endpoint("[::1]", 8080), Endpoint.parse("[::1]:8080"), "an IPv6 app, bracketed as in a URL");
        assertEquals(new Endpoint("fe80::1%eth0", 80), Endpoint.parse("fe80::1%eth0:80"));
        assertThrows(IllegalArgumentException.class, () -> Endpoint.parse("a b:80"));
        assertThrows(IllegalArgumentException.class, () -> Endpoint.parse("user@h:80"));
    }
}

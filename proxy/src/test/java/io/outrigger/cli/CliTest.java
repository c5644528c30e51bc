package io.outrigger.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CliTest {

    private record Outcome(int code, String out, String err) {}

    private static Outcome run(String... args) {
        CommandLine cl = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new Outcome(code, out.toString(), err.toString());
    }

    @Test
    void usageErrorIsOneLineAndExitTwo() {
        Outcome o = run("run", "--bogus");
        assertEquals(2, o.code());
        assertEquals("outrigger: Unknown option: '--bogus' (see 'outrigger run --help')", o.err().strip());
    }

    @Test
    void configErrorIsOneLineAndExitOne(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("bad.yaml");
        Files.writeString(cfg, "resilience:\n  retry: { max_retries: -2 }\n");
        Outcome o = run("run", "--config", cfg.toString());
        assertEquals(1, o.code());
        assertEquals("outrigger: " + cfg + ": resilience.retry.max_retries: -2 (expected: an integer in 0..100)", o.err().strip());
        assertFalse(o.err().contains("Exception"));
    }

    @Test
    void badOverrideIsAConfigError() {
        Outcome o = run("run", "--admin-port", "70000");
        assertEquals(1, o.code());
        assertEquals("outrigger: --admin-port: 70000 (expected: 0..65535)", o.err().strip());
        o = run("run", "--app", "nohost");
        assertEquals("outrigger: --app: nohost (expected: host:port)", o.err().strip());
        o = run("run", "--app", "127.0.0.1:8080");
        assertEquals(1, o.code());
        assertEquals("outrigger: --app: 127.0.0.1:8080 (expected: an inbound listener to point at the app:"
                + " listeners.inbound in the config, or --inbound-port)", o.err().strip(), "no listener the config left out");
        o = run("run", "--name", " ");
        assertEquals(1, o.code());
        assertEquals("outrigger: --name: \" \" (expected: a non-empty string)", o.err().strip());
        o = run("run", "--name", "side car");
        assertEquals(1, o.code());
        assertEquals("outrigger: --name: \"side car\" (expected: an HTTP token such as sidecar-a"
                + " (letters, digits and !#$%&'*+-.^_`|~): it is sent in Via)", o.err().strip());
    }

    /** A line break in a value the user gave (a quoted shell variable, a file name) stays escaped: the error is one line. */
    @Test
    void aLineBreakInAValueKeepsTheErrorOnOneLine(@TempDir Path dir) {
        Outcome o = run("run", "--name", "side\ncar");
        assertEquals(1, o.code());
        assertEquals("outrigger: --name: \"side\\ncar\" (expected: an HTTP token such as sidecar-a"
                + " (letters, digits and !#$%&'*+-.^_`|~): it is sent in Via)", o.err().strip());
        o = run("run", "--config", dir.resolve("a\nb.yaml").toString());
        assertEquals(1, o.code());
        assertEquals("outrigger: " + dir + "/a\\nb.yaml: file not found", o.err().strip());
        o = run("run", "--admin-port", "1\r\n2");
        assertEquals(2, o.code());
        assertEquals("outrigger: Invalid value for option '--admin-port': '1\\r\\n2' is not an int (see 'outrigger run --help')",
                o.err().strip());
        o = run("stdin", "--name", "\t\u000b");
        assertEquals(1, o.code());
        assertEquals("outrigger: --name: \"\\t\\u000b\" (expected: a non-empty string)", o.err().strip());
    }

    @Test
    void missingRegistryFileIsAConfigErrorNamingWhereItWasSet(@TempDir Path dir) throws Exception {
        Outcome o = run("run", "--registry", "file:/nonexistent/registry.json");
        assertEquals(1, o.code());
        assertEquals("outrigger: --registry: registry file /nonexistent/registry.json: not found", o.err().strip());
        Path cfg = Files.writeString(dir.resolve("sidecar.yaml"), "registry: file:/nonexistent/registry.json\n");
        o = run("run", "--config", cfg.toString());
        assertEquals(1, o.code());
        assertEquals("outrigger: " + cfg + ": registry: registry file /nonexistent/registry.json: not found", o.err().strip());
    }

    @Test
    void helpAndVersion() {
        Outcome o = run("--help");
        assertEquals(0, o.code());
        assertTrue(o.out().contains("run") && o.out().contains("stdin"));
        o = run("run", "--version");
        assertEquals(0, o.code());
        assertTrue(o.out().startsWith("outrigger "));
    }

    @Test
    void leakDetectionIsOffInTheBinaryUnlessTheUserChoseALevel() {
        String before = System.getProperty("io.netty.leakDetection.level");
        try {
            System.setProperty("io.netty.leakDetection.level", "advanced");
            Main.disableLeakDetectionUnlessSet();
            assertEquals("advanced", System.getProperty("io.netty.leakDetection.level"), "a user's choice wins");
            System.clearProperty("io.netty.leakDetection.level");
            Main.disableLeakDetectionUnlessSet();
            assertEquals("disabled", System.getProperty("io.netty.leakDetection.level"));
        } finally {
            if (before == null) {
                System.clearProperty("io.netty.leakDetection.level");
            } else {
                System.setProperty("io.netty.leakDetection.level", before);
            }
        }
    }
}

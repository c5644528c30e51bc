package io.outrigger.registry.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MainTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    private void assertOneLine() {
        String text = err.toString().strip();
        assertFalse(text.isEmpty());
        assertFalse(text.contains("\n"), text);
        assertFalse(text.contains("Exception"), text);
    }

    @Test
    void helpAndVersionEverywhere() {
        assertEquals(0, run("--version"));
        assertTrue(out.toString().startsWith("registry-stub "));
        assertEquals(0, run("registry", "--help"));
        assertTrue(out.toString().contains("--seed"));
        assertEquals(0, run("fake-service", "--help"));
        assertTrue(out.toString().contains("--fail-rate"));
        assertEquals(0, run("fake-service", "--version"));
    }

    @Test
    void usageErrorsExit2WithOneLine() {
        assertEquals(2, run());
        assertOneLine();
        err.getBuffer().setLength(0);
        assertEquals(2, run("fake-service", "--port", "1"));
        assertEquals("registry-stub: Missing required option: '--name=<name>' (see 'registry-stub fake-service --help')",
                err.toString().strip());
        err.getBuffer().setLength(0);
        assertEquals(2, run("fake-service", "--name", "b", "--fail-rate", "1.5"));
        assertEquals("registry-stub: --fail-rate: 1.5 (expected: 0.0..1.0) (see 'registry-stub fake-service --help')",
                err.toString().strip());
        err.getBuffer().setLength(0);
        assertEquals(2, run("fake-service", "--name", "b", "--latency-ms", "-1"));
        assertEquals("registry-stub: --latency-ms: -1 (expected: 0..600000) (see 'registry-stub fake-service --help')",
                err.toString().strip());
        err.getBuffer().setLength(0);
        assertEquals(2, run("fake-service", "--name", "b", "--register", "consul:8500"));
        assertOneLine();
        err.getBuffer().setLength(0);
        assertEquals(2, run("registry", "--port", "70000"));
        assertOneLine();
    }

    @Test
    void aRegistryOrSidecarUrlWithAPortOutOfRangeIsAUsageError() {
        // Was accepted: the service started and then retried its registration for good (port out of range:99999).
        assertEquals(2, assertTimeoutPreemptively(java.time.Duration.ofSeconds(10),
                () -> run("fake-service", "--name", "b", "--register", "http://127.0.0.1:99999")));
        assertEquals("registry-stub: --register: http://127.0.0.1:99999 (expected: http://HOST:PORT)"
                + " (see 'registry-stub fake-service --help')", err.toString().strip());
        err.getBuffer().setLength(0);
        assertEquals(2, assertTimeoutPreemptively(java.time.Duration.ofSeconds(10),
                () -> run("fake-service", "--name", "b", "--sidecar", "http://127.0.0.1:65536")));
        assertOneLine();
    }

    @Test
    void fakeServiceValuesTheRegistryWouldRefuseExit2() {
        String[][] refused = {
            {"--name", "a/b"},
            {"--name", "b", "--instance-id", "a/b"},
            {"--name", "b", "--advertise", "::::"},
            {"--name", ""},
            {"--name", "b", "--instance-id", " "},
        };
        for (String[] args : refused) {
            err.getBuffer().setLength(0);
            // With --register: the checks are the registry's, so they apply only to a service that registers
            // (refused before any connection is made; 127.0.0.1:1 is never contacted).
            String[] all = new String[args.length + 5];
            all[0] = "fake-service";
            all[1] = "--port";
            all[2] = "0";
            all[3] = "--register";
            all[4] = "http://127.0.0.1:1";
            System.arraycopy(args, 0, all, 5, args.length);
            assertEquals(2, run(all), String.join(" ", args));
            assertOneLine();
            assertTrue(err.toString().contains(args[args.length - 2] + ": "), err.toString());
        }
    }

    @Test
    void configErrorsExit1WithOneLine() throws Exception {
        assertEquals(1, run("registry", "--port", "0", "--seed", "/no/such/registry.json"));
        assertEquals("registry-stub: --seed: registry file /no/such/registry.json: not found", err.toString().strip());
        Path bad = Files.createTempFile("registry", ".json");
        try {
            Files.writeString(bad, "{\"services\": {\"service-b\": [{\"host\": \"10.0.1.1\", \"port\": \"x\"}]}}");
            err.getBuffer().setLength(0);
            assertEquals(1, run("registry", "--port", "0", "--seed", bad.toString()));
            assertOneLine();
            assertTrue(err.toString().contains("services.service-b[0]"), err.toString());
        } finally {
            Files.delete(bad);
        }
    }

    @Test
    void aHostThatNamesNoAddressSaysSo() {
        // A bracketed IPv6 literal that is not one fails without a DNS lookup: no traffic leaves the machine.
        assertEquals(1, run("registry", "--port", "0", "--host", "[::zz]"));
        assertEquals("registry-stub: cannot listen on [::zz]:0: no such address"
                + " (expected: an IP address or a host name that resolves to one of this host's)", err.toString().strip());
    }
}

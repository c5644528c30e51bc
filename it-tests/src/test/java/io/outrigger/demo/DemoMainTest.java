package io.outrigger.demo;

import io.outrigger.it.harness.ManagedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The demo's command line: what it does when it cannot run (the runs themselves are the scenario tests). */
class DemoMainTest {

    @Test
    void withoutBuiltJarsItSaysWhatToBuildAndExits1StartingNothing(@TempDir Path emptyRoot) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int before = ManagedProcess.alive().size();
        int exit = new CommandLine(new DemoMain(new PrintStream(bytes, true, StandardCharsets.UTF_8)))
                .execute("--root", emptyRoot.toString());
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(1, exit, out);
        assertTrue(out.contains("proxy/target/outrigger.jar not found"), out);
        assertTrue(out.contains("mvn -B -q package -DskipTests"), "names the build command: " + out);
        assertEquals(before, ManagedProcess.alive().size(), "started a process anyway");
    }

    @Test
    void versionIsTheBuildsNotAFixedString() {
        StringWriter out = new StringWriter();
        int exit = DemoMain.commandLine(new DemoMain()).setOut(new PrintWriter(out)).execute("--version");
        assertEquals(0, exit);
        // Run from classes there is no manifest: "dev", as the sidecar and the registry stub say; the jar says its build's version.
        String expected = DemoMain.class.getPackage().getImplementationVersion();
        assertEquals("outrigger-demo " + (expected == null ? "dev" : expected), out.toString().strip());
    }

    @Test
    void anUnknownFlagIsAUsageErrorOfOneLine() {
        StringWriter err = new StringWriter();
        int exit = DemoMain.commandLine(new DemoMain()).setErr(new PrintWriter(err)).execute("--keep-runing");
        assertEquals(2, exit);
        // As every command of the project words it (interfaces.md): one line, not the reason plus the whole usage.
        assertEquals("outrigger-demo: Unknown option: '--keep-runing' (see 'outrigger-demo --help')", err.toString().strip());
    }
}

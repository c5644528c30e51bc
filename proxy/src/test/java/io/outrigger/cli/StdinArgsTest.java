package io.outrigger.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The picocli-free parse of plain {@code stdin} arguments gives picocli's result, and leaves everything else to picocli. */
class StdinArgsTest {

    @Test
    void plainFormsParseAsPicocliDoes() {
        List<String[]> forms = List.of(
                new String[] {"stdin"},
                new String[] {"stdin", "--registry", "config/registry.json"},
                new String[] {"stdin", "--registry=config/registry.json"},
                new String[] {"stdin", "--name", "sidecar-x"},
                new String[] {"stdin", "--name=sidecar-x"},
                new String[] {"stdin", "--name", "n=1", "--registry", "/tmp/r.json"},
                new String[] {"stdin", "--registry=/tmp/a=b.json", "--name=x"});
        for (String[] args : forms) {
            StdinCommand plain = StdinCommand.parsePlain(args);
            assertNotNull(plain, String.join(" ", args));
            CommandLine cl = Main.commandLine();
            CommandLine.ParseResult parsed = cl.parseArgs(args);
            StdinCommand picocli = (StdinCommand) parsed.subcommand().commandSpec().userObject();
            assertEquals(picocli.registry, plain.registry, String.join(" ", args));
            assertEquals(picocli.name, plain.name, String.join(" ", args));
        }
    }

    @Test
    void everythingElseIsLeftToPicocli() {
        List<String[]> others = List.of(
                new String[] {},
                new String[] {"run"},
                new String[] {"--help"},
                new String[] {"stdin", "--help"},
                new String[] {"stdin", "-h"},
                new String[] {"stdin", "--version"},
                new String[] {"stdin", "--bogus"},
                new String[] {"stdin", "extra"},
                new String[] {"stdin", "--name"},
                new String[] {"stdin", "--name="},
                new String[] {"stdin", "--name", "--registry", "f"},
                new String[] {"stdin", "--name", "a", "--name", "b"},
                new String[] {"stdin", "--registry=a", "--registry", "b"},
                new String[] {"stdin", "@args.txt"},
                new String[] {"stdin", "--name", "@n"},
                new String[] {"stdin", "--registry", "bad\0path"},
                new String[] {"STDIN"});
        for (String[] args : others) {
            assertNull(StdinCommand.parsePlain(args), String.join(" ", args));
        }
    }

    @Test
    void picocliKeepsItsOutcomesForTheFormsLeftToIt() {
        assertEquals(2, run("stdin", "--bogus").code());
        assertEquals("outrigger: Unknown option: '--bogus' (see 'outrigger stdin --help')", run("stdin", "--bogus").err().strip());
        Outcome repeated = run("stdin", "--name", "a", "--name", "b");
        assertEquals(2, repeated.code());
        assertEquals(1, repeated.err().strip().lines().count(), repeated.err());
        Outcome missing = run("stdin", "--name");
        assertEquals(2, missing.code());
        assertTrue(missing.err().startsWith("outrigger: Missing required parameter for option '--name'"), missing.err());
        Outcome help = run("stdin", "--help");
        assertEquals(0, help.code());
        assertTrue(help.out().contains("--registry=FILE"), help.out());
    }

    @Test
    void aUserMistakeOnThePlainPathIsOneLineAndExitOne() {
        StdinCommand plain = StdinCommand.parsePlain(new String[] {"stdin", "--registry", "/nonexistent/registry.json"});
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true));
        int code;
        try {
            code = Main.runPlain(plain);
        } finally {
            System.setErr(saved);
        }
        assertEquals(1, code);
        assertEquals("outrigger: registry file /nonexistent/registry.json: not found", err.toString().strip());
    }

    private record Outcome(int code, String out, String err) {}

    private static Outcome run(String... args) {
        CommandLine cl = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        return new Outcome(cl.execute(args), out.toString(), err.toString());
    }
}

package io.outrigger.cli;

import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

/**
 * The {@code outrigger} command: {@code run} starts the sidecar, {@code stdin} the line-JSON
 * node on standard input and output.
 */
@Command(name = "outrigger", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "A sidecar reverse proxy: discovery, load balancing, retries, circuit breaking, tracing.",
        subcommands = {RunCommand.class, StdinCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        disableLeakDetectionUnlessSet();
        StdinCommand plain = StdinCommand.parsePlain(args);
        if (plain == null) {
            letNettyManageDirectMemory();
        }
        System.exit(plain != null ? runPlain(plain) : commandLine().execute(args)); // allowed: the CLI entry point owns the exit code
    }

    /**
     * Turns Netty's buffer leak detector off in the shipped binary unless the user chose a level
     * ({@code -Dio.netty.leakDetection.level=simple|advanced|paranoid}). Its default sampling costs
     * about 10% of the CPU per proxied request; the test suite runs every test at {@code paranoid}
     * and fails on a leak, which is where leaks are meant to be caught. Must run before Netty loads.
     */
    static void disableLeakDetectionUnlessSet() {
        if (System.getProperty("io.netty.leakDetection.level") == null && System.getProperty("io.netty.leakDetectionLevel") == null) {
            System.setProperty("io.netty.leakDetection.level", "disabled");
        }
    }

    /**
     * Lets Netty allocate direct buffers without the JDK's {@code Cleaner} and count them itself
     * against {@code -XX:MaxDirectMemorySize} (its {@code io.netty.maxDirectMemory}), unless the user
     * set {@code -Dio.netty.tryReflectionSetAccessible}. Then a buffer over the limit fails at once
     * ({@code failed to allocate ... of direct memory}); through the JDK, every refused buffer made the
     * event loop call {@code System.gc()} and sleep up to about half a second in
     * {@code Bits.reserveMemory}, and under a flood of slow uploads the sidecar stopped answering
     * anyone, even its admin listener, for as long as the flood lasted. Netty needs {@code java.nio}
     * opened to it for this, which the jar's manifest does ({@code Add-Opens}); without that, as on a
     * classpath launch, Netty keeps using the JDK's buffers. Not for {@code stdin}, which starts as
     * fast as it can and reads one connection. Must run before Netty loads.
     */
    static void letNettyManageDirectMemory() {
        if (System.getProperty("io.netty.tryReflectionSetAccessible") == null) {
            System.setProperty("io.netty.tryReflectionSetAccessible", "true");
        }
    }

    /** Runs a command parsed without picocli, with the same outcomes as {@link #commandLine()}'s handlers. */
    static int runPlain(Callable<Integer> command) {
        try {
            return command.call();
        } catch (UserException e) {
            System.err.println("outrigger: " + oneLine(e.getMessage()));
            return 1;
        } catch (Exception e) {
            LoggerFactory.getLogger(Main.class).error("outrigger failed", e);
            return 1;
        }
    }

    /** The command line with the project's error handling: one line on stderr, no stack trace for user mistakes. */
    public static CommandLine commandLine() {
        return withProjectErrorHandling(new CommandLine(new Main()), "outrigger");
    }

    /**
     * The project's CLI contract, shared by every command of the project: a {@link UserException} prints
     * {@code PROGRAM: message} and exits 1; a usage error prints one line naming the command's {@code --help}
     * and exits 2; anything else is a bug and keeps its stack trace.
     */
    public static CommandLine withProjectErrorHandling(CommandLine cl, String program) {
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            if (ex instanceof UserException) {
                cmd.getErr().println(program + ": " + oneLine(ex.getMessage()));
                return 1;
            }
            throw ex;
        });
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine cmd = ex.getCommandLine();
            cmd.getErr().println(program + ": " + oneLine(ex.getMessage()) + " (see '" + cmd.getCommandSpec().qualifiedName() + " --help')");
            return CommandLine.ExitCode.USAGE;
        });
        return cl;
    }

    /**
     * {@code message} on one line: a value the user gave may hold a line break or another control character (a
     * quoted shell variable, a file name), which is shown escaped as a YAML value is ({@code \n}, {@code \t}, else
     * {@code \}{@code uXXXX}): a script reading the one line of an error must not take the rest for another.
     */
    static String oneLine(String message) {
        String s = String.valueOf(message);
        StringBuilder out = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c >= 0x20 && c != 0x7f) {
                if (out != null) {
                    out.append(c);
                }
                continue;
            }
            if (out == null) {
                out = new StringBuilder(s.length() + 8).append(s, 0, i);
            }
            switch (c) {
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> out.append(String.format("\\u%04x", (int) c));
            }
        }
        return out == null ? s : out.toString();
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required: run or stdin");
    }
}

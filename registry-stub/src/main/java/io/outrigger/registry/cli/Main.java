package io.outrigger.registry.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code registry-stub} command: {@code registry} runs a Consul-style registry stub, {@code fake-service}
 * a fake service instance. Usage errors exit 2, config errors 1, each with one line on stderr.
 */
@Command(name = "registry-stub", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "A Consul-style registry stub and fake services for Outrigger demos and tests.",
        subcommands = {RegistryCommand.class, FakeServiceCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args)); // allowed: the CLI entry point owns the exit code
    }

    /** The command line with the project's error handling: one line on stderr, no stack trace for user mistakes. */
    public static CommandLine commandLine() {
        return io.outrigger.cli.Main.withProjectErrorHandling(new CommandLine(new Main()), "registry-stub");
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required: registry or fake-service");
    }
}

package io.outrigger.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code outrigger stdin}: the line-JSON node on standard input and output, for test harnesses. */
@Command(name = "stdin", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "Serve the line-JSON protocol on stdin/stdout (one envelope per line).")
public final class StdinCommand implements Callable<Integer> {

    @Option(names = "--registry", paramLabel = "FILE", description = "Registry JSON file (default: the embedded config/registry.json).")
    Path registry;

    @Option(names = "--name", description = "The sidecar name in proxied_by (default: derived from the caller, service-a -> sidecar-a).")
    String name;

    @Override
    public Integer call() {
        throw new UserException("stdin: not implemented yet");
    }
}

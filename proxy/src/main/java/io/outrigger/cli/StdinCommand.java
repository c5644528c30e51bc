package io.outrigger.cli;

import io.outrigger.SidecarContext;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.discovery.Registry;
import io.outrigger.discovery.RegistryException;
import io.outrigger.jsonline.ClassPreloader;
import io.outrigger.jsonline.JsonLineNode;
import io.outrigger.stdin.StdinNode;
import io.outrigger.time.Ticker;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code outrigger stdin}: the line-JSON node on standard input and output, for test harnesses.
 * Reads until end of input, answers what is in flight, exits 0. Opens no network connection.
 */
@Command(name = "stdin", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "Serve the line-JSON protocol on stdin/stdout (one envelope per line).")
public final class StdinCommand implements Callable<Integer> {

    @Option(names = "--registry", paramLabel = "FILE", description = "Registry JSON file (default: the embedded config/registry.json).")
    Path registry;

    @Option(names = "--name", description = "The sidecar name in proxied_by (default: derived from the caller, service-a -> sidecar-a).")
    String name;

    /**
     * The command for plain arguments, without picocli (building its model is most of a cold
     * start): {@code stdin}, then {@code --registry FILE} and {@code --name NAME} at most once each,
     * as {@code --opt VALUE} or {@code --opt=VALUE}. Returns null for anything else (help, version,
     * mistakes, {@code @file} arguments, values that look like options), which picocli then handles.
     */
    static StdinCommand parsePlain(String[] args) {
        if (args.length == 0 || !args[0].equals("stdin")) {
            return null;
        }
        StdinCommand command = new StdinCommand();
        String registry = null;
        for (int i = 1; i < args.length; i++) {
            String arg = args[i];
            int eq = arg.indexOf('=');
            String option = eq < 0 ? arg : arg.substring(0, eq);
            String value;
            if (eq >= 0) {
                value = arg.substring(eq + 1);
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                return null;
            }
            if (value.isEmpty() || value.startsWith("-") || value.startsWith("@")) {
                return null;
            }
            if (option.equals("--registry") && registry == null) {
                registry = value;
            } else if (option.equals("--name") && command.name == null) {
                command.name = value;
            } else {
                return null;
            }
        }
        if (registry != null) {
            try {
                command.registry = Path.of(registry);
            } catch (InvalidPathException e) {
                return null;
            }
        }
        return command;
    }

    @Override
    public Integer call() throws Exception {
        if (name != null && name.isBlank()) {
            // As run refuses it: an empty proxied_by in every reply is a mistake (an unset shell variable), not a name.
            throw new UserException("--name: \"" + name + "\" (expected: a non-empty string)");
        }
        ClassPreloader.startInBackground();
        Registry reg;
        try {
            reg = registry == null ? StdinNode.embeddedRegistry() : FileRegistry.load(registry);
        } catch (RegistryException e) {
            throw new UserException(e.getMessage());
        }
        StdinNode.configureNettyForFastStart();
        SidecarContext context = new SidecarContext(SidecarConfig.defaults(), reg, Ticker.system());
        JsonLineNode node = new JsonLineNode(context, name, JsonLineNode.DEFAULT_DRAIN_MILLIS);
        OutputStream stdout = new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 64 * 1024);
        try (StdinNode stdin = StdinNode.start(node, stdout)) {
            stdin.run(new FileInputStream(FileDescriptor.in));
        }
        return 0;
    }
}

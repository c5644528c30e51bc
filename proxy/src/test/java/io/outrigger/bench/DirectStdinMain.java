package io.outrigger.bench;

import io.outrigger.cli.StdinCommand;

/**
 * {@code outrigger stdin} without the picocli command line in front (a benchmark aid, not a
 * product entry point): shows how much of the cold start is argument parsing. picocli's classes
 * are Java 5 bytecode, which AppCDS cannot archive, so they load and verify on every start.
 */
public final class DirectStdinMain {
    private DirectStdinMain() {
    }

    public static void main(String[] args) throws Exception {
        System.exit(new StdinCommand().call());
    }
}

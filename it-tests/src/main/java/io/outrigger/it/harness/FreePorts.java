package io.outrigger.it.harness;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Hands out free TCP ports on 127.0.0.1 for processes started next to bind: a port that binds now,
 * closed again at once.
 *
 * <p>The port is drawn at random from below the kernel's ephemeral range
 * ({@code net.ipv4.ip_local_port_range}), never from it: the kernel gives ephemeral ports to every
 * bind to port 0 and every outgoing connection on the machine, so a port of that range freed here
 * could be taken by anyone (another test fork, another suite on the machine, a client connection)
 * before the process it was meant for binds it. Below the range only a process asking for that very
 * port can take it. Where there is no room below the range, the kernel picks (bind to port 0).
 *
 * <p>A port is never handed out twice by one JVM (two components started together cannot get
 * the same one). Thread-safe.
 */
public final class FreePorts {
    /** Where the random draw starts: above the project's fixed default ports (8500, 9001, 15000...). */
    static final int LOWEST = 20_000;
    private static final int ATTEMPTS = 200;
    private static final Set<Integer> handedOut = new HashSet<>();
    private static final int belowEphemeral = ephemeralLow(Path.of("/proc/sys/net/ipv4/ip_local_port_range"));

    private FreePorts() {
    }

    /** A port that was free on 127.0.0.1 a moment ago and that this JVM has not handed out before. */
    public static synchronized int next() {
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            int port = belowEphemeral - LOWEST >= 1_000 ? ThreadLocalRandom.current().nextInt(LOWEST, belowEphemeral) : 0;
            try (ServerSocket socket = new ServerSocket()) {
                socket.setReuseAddress(false); // the kernel lingers on a port in TIME_WAIT: not free for this check
                socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
                if (handedOut.add(socket.getLocalPort())) {
                    return socket.getLocalPort();
                }
            } catch (IOException e) {
                if (port == 0) {
                    throw new UncheckedIOException("cannot bind a loopback port", e);
                }
                // taken: draw another
            }
        }
        throw new IllegalStateException("no fresh free port after " + ATTEMPTS + " attempts");
    }

    /** The first port of the kernel's ephemeral range, read from {@code rangeFile}; 32768 (Linux's default) if unreadable. */
    static int ephemeralLow(Path rangeFile) {
        try {
            // Not Files.readString: on JDK 17 it returns one byte of this /proc file, which reports a size of 0.
            String[] range = String.join(" ", Files.readAllLines(rangeFile)).trim().split("\\s+");
            return Integer.parseInt(range[0]);
        } catch (IOException | RuntimeException e) {
            return 32_768;
        }
    }
}

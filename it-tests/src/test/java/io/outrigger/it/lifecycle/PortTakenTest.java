package io.outrigger.it.lifecycle;

import io.outrigger.it.harness.ManagedProcess;
import io.outrigger.it.harness.ProjectLayout;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * The sidecar's command started on a port another process holds: the common way a second copy, or a
 * port clash in a config, shows. It exits 1 with one line that says which port, which key and why,
 * and no stack trace (the contract for user mistakes). The port here comes from a flag, so the line
 * names the flag: the config key it overrides would send the user looking in a file that does not set it.
 */
class PortTakenTest {
    @Test
    void aTakenPortExitsOneWithOneLineNamingPortKeyAndReason() throws Exception {
        ProjectLayout layout = ProjectLayout.current();
        layout.requireJars();
        Path dir = layout.logDir().resolve("port-taken");
        Files.createDirectories(dir);
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            ManagedProcess sidecar = ManagedProcess.startJava("port-taken",
                    List.of("-jar", layout.proxyJar().toString(), "run", "--admin-port", Integer.toString(taken.getLocalPort())),
                    Map.of(), dir);
            Optional<Integer> exit = sidecar.awaitExit(Duration.ofSeconds(30));
            if (exit.isEmpty()) {
                sidecar.kill();
            }
            String log = Files.readString(sidecar.logFile());
            assertEquals(Optional.of(1), exit, "exit code; log:\n" + log);
            assertEquals("outrigger: cannot listen on 127.0.0.1:" + taken.getLocalPort() + " (--admin-port): Address already in use",
                    sidecar.logTail(1), log);
            assertFalse(log.contains("Exception") || log.contains("\tat "), "no stack trace:\n" + log);
        }
    }
}

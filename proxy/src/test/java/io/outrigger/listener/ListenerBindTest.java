package io.outrigger.listener;

import io.outrigger.Sidecar;
import io.outrigger.SidecarContext;
import io.outrigger.config.ConfigLoader;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.time.Ticker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.net.BindException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A port the system refuses is the user's problem to fix, so it must say which listener, which
 * address and why, in words, on every transport; and a half-started sidecar must not keep the
 * listeners it had already bound.
 */
class ListenerBindTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Transports.class)
    void aTakenPortNamesAddressKeyAndReasonAndTheListenersBoundBeforeAreClosed(Transports transport) throws Exception {
        assumeTrue(transport.isAvailable(), transport + " is not available on this machine");
        Path registry = Files.writeString(dir.resolve("registry.json"), "{\"services\": {\"svc\": []}}");
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            int free = probe.getLocalPort();
            probe.close(); // a port that was free a moment ago: the outbound listener binds it before the tcp one fails
            SidecarConfig cfg = ConfigLoader.parse("registry: file:" + registry + "\nlisteners:\n"
                    + "  outbound: { port: " + free + " }\n"
                    + "  tcp: [ { port: " + taken.getLocalPort() + ", service: svc } ]\n", "test");
            try (Sidecar sidecar = new Sidecar(new SidecarContext(cfg, FileRegistry.load(registry), Ticker.system()), transport, 1)) {
                ListenerBindException e = assertThrows(ListenerBindException.class, sidecar::start);
                assertEquals("cannot listen on 127.0.0.1:" + taken.getLocalPort() + " (listeners.tcp[0].port): Address already in use",
                        e.getMessage());
                assertThrows(ConnectException.class, () -> new Socket("127.0.0.1", free).close(),
                        "the outbound listener bound before the failure is closed again");
            }
        }
    }

    @Test
    void aBindAddressThatNamesNoAddressIsAOneLineError() throws Exception {
        Path registry = Files.writeString(dir.resolve("registry.json"), "{\"services\": {}}");
        // A bracketed IPv6 literal that is not one fails without a DNS lookup: no traffic leaves the machine.
        SidecarConfig cfg = ConfigLoader.parse("registry: file:" + registry + "\nbind_address: \"[::zz]\"\n"
                + "listeners:\n  admin: { port: 0 }\n", "test");
        try (Sidecar sidecar = new Sidecar(new SidecarContext(cfg, FileRegistry.load(registry), Ticker.system()))) {
            ListenerBindException e = assertThrows(ListenerBindException.class, sidecar::start);
            assertEquals("cannot listen on [::zz]:0 (bind_address): no such address"
                    + " (expected: an IP address or a host name that resolves to one of this host's)", e.getMessage());
        }
    }

    @ParameterizedTest
    @EnumSource(Transports.class)
    void anAddressThatIsNotThisHostsNamesBindAddressNotThePort(Transports transport) throws Exception {
        assumeTrue(transport.isAvailable(), transport + " is not available on this machine");
        assumeTrue("0".equals(Files.readString(Path.of("/proc/sys/net/ipv4/ip_nonlocal_bind")).trim()),
                "binding addresses that are not this host's is allowed here");
        Path registry = Files.writeString(dir.resolve("registry.json"), "{\"services\": {}}");
        // 192.0.2.1 (TEST-NET-1, documentation only) is on no interface: bind(2) fails at once, nothing is sent.
        SidecarConfig cfg = ConfigLoader.parse("registry: file:" + registry + "\nbind_address: 192.0.2.1\n"
                + "listeners:\n  admin: { port: 0 }\n", "test");
        try (Sidecar sidecar = new Sidecar(new SidecarContext(cfg, FileRegistry.load(registry), Ticker.system()), transport, 1)) {
            ListenerBindException e = assertThrows(ListenerBindException.class, sidecar::start);
            assertEquals("cannot listen on 192.0.2.1:0 (bind_address): Cannot assign requested address", e.getMessage());
        }
    }

    @Test
    void theReasonIsTheSystemsWordsWhateverTheTransportWrapsThemIn() {
        assertEquals("Address already in use",
                ListenerBindException.reason(new IOException("bind(..) failed with error(-98): Address already in use")));
        assertEquals("Address already in use", ListenerBindException.reason(new BindException("Address already in use")));
        assertEquals("Permission denied", ListenerBindException.reason(new IOException("bind(..) failed with error(-13): Permission denied")));
        assertEquals("IOException", ListenerBindException.reason(new IOException()));
        assertEquals("cannot listen on 0.0.0.0:80 (listeners.admin.port): Permission denied",
                new ListenerBindException("0.0.0.0", 80, "listeners.admin.port", new IOException("bind(..) failed with error(-13): Permission denied"))
                        .getMessage());
    }
}

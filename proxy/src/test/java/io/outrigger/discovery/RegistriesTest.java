package io.outrigger.discovery;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class RegistriesTest {

    @Test
    void rejectsMalformedRegistryUrls() {
        for (String bad : new String[] {"http://", "http://host", "http://host:8500/v1", "http://host:8500?x=1", "http://host:abc"}) {
            RegistryException e = assertThrows(RegistryException.class, () -> Registries.open(bad), bad);
            assertEquals(true, e.getMessage().startsWith("registry " + bad), e.getMessage());
        }
    }

    @Test
    void aPortOver65535IsAConfigErrorNotAPollThatDies() {
        // Was accepted: the first poll threw "port out of range:99999" on the discovery loop, a stack trace, and the
        // sidecar stayed up never ready, polling no more.
        RegistryException e = assertThrows(RegistryException.class, () -> Registries.open("http://127.0.0.1:99999"));
        assertEquals("registry http://127.0.0.1:99999: expected http://HOST:PORT", e.getMessage());
    }

    @Test
    void opensAConsulRegistryWithoutBlocking() throws Exception {
        // Port 1 of loopback refuses at once: open() still returns, ready() stays pending, reads answer empty.
        try (Registry r = Registries.open("http://127.0.0.1:1")) {
            assertEquals("http://127.0.0.1:1", r.describe());
            assertEquals(0, r.endpoints("service-b").size());
            assertEquals(false, r.ready().isDone());
        }
    }
}

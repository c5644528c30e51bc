package io.outrigger.resilience;

import io.outrigger.discovery.Endpoint;
import io.outrigger.time.Ticker;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

class CircuitBreakersTest {
    private final CircuitBreakers breakers = new CircuitBreakers(CircuitBreakerConfig.DEFAULT, Ticker.system());

    @Test
    void findInstanceSeesTheBreakerForInstanceCreatedAndNothingElse() {
        Endpoint a = new Endpoint("127.0.0.1", 9001);
        assertNull(breakers.findInstance("svc", a), "nothing is created by a lookup");
        CircuitBreaker b = breakers.forInstance("svc", a);
        assertSame(b, breakers.findInstance("svc", new Endpoint("127.0.0.1", 9001)));
        assertSame(b, breakers.forInstance("svc", a));
        assertSame(b, breakers.find(CircuitBreakers.instanceKey("svc", a)), "still reachable by its key");
        assertNull(breakers.findInstance("other", a));
        assertNull(breakers.findInstance("svc", new Endpoint("127.0.0.1", 9002)));
        assertNotSame(b, breakers.forService("svc"));
    }
}

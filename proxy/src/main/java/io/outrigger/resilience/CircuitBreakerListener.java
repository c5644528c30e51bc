package io.outrigger.resilience;

/**
 * Told about every state change of a {@link CircuitBreaker}, after the change took effect.
 *
 * <p>Called on the thread that caused the transition (often an event loop): implementations
 * must be quick and must not block. An exception thrown here is logged and ignored.
 */
@FunctionalInterface
public interface CircuitBreakerListener {
    void onStateChanged(CircuitBreaker breaker, CircuitBreaker.State from, CircuitBreaker.State to, String reason);
}

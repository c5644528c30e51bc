package io.outrigger.resilience;

import io.outrigger.time.FakeTicker;
import io.outrigger.time.Ticker;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A fake clock that, once told to, takes a breaker's half-open probe at the moment a load balancer
 * asks that breaker whether it would let a call through: the race with another event loop that takes
 * the last probe between an instance's pick and its permit, made to happen every time. Thread-safe.
 */
public final class ProbeThief implements Ticker {
    private final FakeTicker clock = new FakeTicker();
    private final AtomicReference<CircuitBreaker> victim = new AtomicReference<>();
    private final AtomicInteger stolen = new AtomicInteger();

    /** The time itself, moved by the test. */
    public FakeTicker clock() {
        return clock;
    }

    /** The next time {@code breaker} is asked {@link CircuitBreaker#isCallPermitted()}, its probe is taken first. */
    public void stealNextProbeOf(CircuitBreaker breaker) {
        victim.set(breaker);
    }

    /** How many probes were taken. */
    public int stolen() {
        return stolen.get();
    }

    @Override
    public long nanos() {
        CircuitBreaker b = victim.get();
        // isCallPermitted has read its state and asks the time last: taking the probe now makes it answer
        // "permitted" for a breaker that no longer is, as when another thread takes it in between.
        if (b != null && askedByIsCallPermitted() && victim.compareAndSet(b, null)
                && b.acquirePermission() != CircuitBreaker.NO_PERMIT) {
            stolen.incrementAndGet();
        }
        return clock.nanos();
    }

    private static boolean askedByIsCallPermitted() {
        return StackWalker.getInstance().walk(frames -> frames.skip(2).findFirst())
                .map(f -> f.getClassName().equals(CircuitBreaker.class.getName()) && f.getMethodName().equals("isCallPermitted"))
                .orElse(false);
    }
}

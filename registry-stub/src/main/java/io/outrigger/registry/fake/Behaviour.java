package io.outrigger.registry.fake;

import java.util.concurrent.ThreadLocalRandom;

/**
 * What a fake service is told to do, changeable at run time through its {@code /admin} endpoints.
 * Thread-safe (volatile fields, each read once per request).
 */
public final class Behaviour {
    private volatile double failRate;
    private volatile long latencyMillis;
    private volatile boolean healthFailing;
    private volatile int failStatus = 500;

    /**
     * @param failRate      share of ordinary requests answered with the fail status (500 unless set), 0..1 (1.0 also fails {@code /health})
     * @param latencyMillis delay before every answer but {@code /admin}'s
     */
    public Behaviour(double failRate, long latencyMillis) {
        setFailRate(failRate);
        setLatencyMillis(latencyMillis);
    }

    public double failRate() {
        return failRate;
    }

    public void setFailRate(double rate) {
        if (!(rate >= 0 && rate <= 1)) {
            throw new IllegalArgumentException("rate: " + rate + " (expected: 0.0..1.0)");
        }
        this.failRate = rate;
    }

    /** Sets the fail rate and the status of injected failures together: both are checked before either changes. */
    public void setFailure(double rate, long status) {
        if (!(rate >= 0 && rate <= 1)) {
            throw new IllegalArgumentException("rate: " + rate + " (expected: 0.0..1.0)");
        }
        if (status < 500 || status > 599) {
            throw new IllegalArgumentException("status: " + status + " (expected: 500..599)");
        }
        this.failStatus = (int) status;
        this.failRate = rate;
    }

    /** The status of an injected failure (default 500; 503 makes idempotent requests retryable). */
    public int failStatus() {
        return failStatus;
    }

    public void setFailStatus(int status) {
        if (status < 500 || status > 599) {
            throw new IllegalArgumentException("status: " + status + " (expected: 500..599)");
        }
        this.failStatus = status;
    }

    public long latencyMillis() {
        return latencyMillis;
    }

    public void setLatencyMillis(long millis) {
        if (millis < 0 || millis > 600_000) {
            throw new IllegalArgumentException("ms: " + millis + " (expected: 0..600000)");
        }
        this.latencyMillis = millis;
    }

    /** Whether {@code /health} answers 503: switched on by {@code POST /admin/health?fail=true} or a fail rate of 1.0. */
    public boolean healthFailing() {
        return healthFailing || failRate >= 1.0;
    }

    public void setHealthFailing(boolean failing) {
        this.healthFailing = failing;
    }

    /** Draws whether this request fails. */
    boolean failNow() {
        double r = failRate;
        return r > 0 && (r >= 1.0 || ThreadLocalRandom.current().nextDouble() < r);
    }
}

package io.outrigger.testing;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Waits for a condition with a deadline, polling: the tests' one way to wait for something another thread does. */
public final class Await {
    private Await() {
    }

    /** Returns once {@code condition} holds; fails the test, naming {@code what}, when it does not within {@code within}. */
    public static void until(String what, Duration within, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("not within " + within.toMillis() + " ms: " + what);
            }
            Thread.sleep(5);
        }
    }
}

package io.outrigger.it.harness;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Awaits a condition with a deadline: the check runs on a timer thread every {@code interval}
 * until it yields a value, and the caller waits on the outcome, never on a fixed sleep.
 *
 * <p>An {@link IOException} from the check (connection refused while a process starts) means
 * "not yet"; any other exception ends the wait at once. Thread-safe; the timer thread is a daemon.
 */
public final class Poller {
    private static final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "it-poller");
        t.setDaemon(true);
        return t;
    });

    private Poller() {
    }

    /** Thrown when the deadline passes before the condition held; says what was awaited and the last "not yet". */
    public static final class ConditionTimeoutException extends RuntimeException {
        ConditionTimeoutException(String message) {
            super(message);
        }
    }

    /**
     * Runs {@code check} every {@code interval} until it returns a value, and returns that value.
     *
     * @throws ConditionTimeoutException when {@code timeout} passes first
     */
    public static <T> T await(String what, Duration timeout, Duration interval, Callable<Optional<T>> check) {
        CompletableFuture<T> done = new CompletableFuture<>();
        AtomicReference<String> lastMiss = new AtomicReference<>("");
        ScheduledFuture<?> task = timer.scheduleWithFixedDelay(() -> {
            if (done.isDone()) {
                return;
            }
            try {
                check.call().ifPresent(done::complete);
            } catch (IOException | UncheckedIOException e) {
                lastMiss.set(" (last: " + e + ")");
            } catch (Exception e) {
                done.completeExceptionally(e);
            }
        }, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
        try {
            return done.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new ConditionTimeoutException("timed out after " + timeout.toMillis() + " ms waiting for " + what + lastMiss.get());
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw cause instanceof RuntimeException r ? r : new IllegalStateException(what + ": " + cause, cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for " + what, e);
        } finally {
            task.cancel(false);
        }
    }

    /** Waits until {@code check} is true. */
    public static void awaitTrue(String what, Duration timeout, Duration interval, Callable<Boolean> check) {
        await(what, timeout, interval, () -> check.call() ? Optional.of(Boolean.TRUE) : Optional.empty());
    }
}

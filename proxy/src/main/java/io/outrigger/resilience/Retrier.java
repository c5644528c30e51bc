package io.outrigger.resilience;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;

import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Runs an asynchronous attempt and retries it after {@link Backoff} delays scheduled on an
 * event loop: no thread ever sleeps while a retry waits.
 *
 * <pre>
 *   attempt(1) --fail, retryable--> schedule(backoff(1)) --> attempt(2) --...--> success | last failure
 * </pre>
 *
 * The result promise completes on {@code executor}. Retry is the outer layer: a circuit breaker
 * judges each attempt inside {@link Attempt#run(int)}. Cancelling the result stops the run: the
 * outcome of an attempt still in progress is then ignored, and neither backoff nor listener is asked again.
 */
public final class Retrier {
    private Retrier() {
    }

    /** One attempt; {@code attempt} counts from 1. */
    @FunctionalInterface
    public interface Attempt<T> {
        Future<T> run(int attempt);
    }

    /** Told before each retry is scheduled. */
    @FunctionalInterface
    public interface RetryListener {
        void onRetry(int retry, long delayMillis, Throwable cause);
    }

    /**
     * Runs {@code attempt} until it succeeds, fails with a cause {@code retryable} rejects, or
     * {@code backoff} returns a negative delay.
     */
    public static <T> Future<T> run(EventExecutor executor, Backoff backoff, Predicate<Throwable> retryable,
                                    RetryListener listener, Attempt<T> attempt) {
        Promise<T> result = executor.newPromise();
        if (executor.inEventLoop()) {
            runAttempt(executor, backoff, retryable, listener, attempt, 1, result);
        } else {
            executor.execute(() -> runAttempt(executor, backoff, retryable, listener, attempt, 1, result));
        }
        return result;
    }

    private static <T> void runAttempt(EventExecutor executor, Backoff backoff, Predicate<Throwable> retryable,
                                       RetryListener listener, Attempt<T> attempt, int n, Promise<T> result) {
        if (result.isDone()) {
            return; // cancelled by the caller
        }
        Future<T> f;
        try {
            f = attempt.run(n);
        } catch (Throwable t) {
            f = executor.newFailedFuture(t);
        }
        f.addListener(done -> {
            if (result.isDone()) {
                return; // cancelled while the attempt ran: no backoff asked (it may take from a budget), no retry
            }
            if (done.isSuccess()) {
                @SuppressWarnings("unchecked")
                T value = (T) done.getNow();
                result.trySuccess(value);
                return;
            }
            Throwable cause = done.cause();
            long delay = retryable.test(cause) ? backoff.nextDelayMillis(n) : -1;
            if (delay < 0) {
                result.tryFailure(cause);
                return;
            }
            listener.onRetry(n, delay, cause);
            Runnable next = () -> runAttempt(executor, backoff, retryable, listener, attempt, n + 1, result);
            if (delay == 0) {
                executor.execute(next);
            } else {
                ScheduledFuture<?> timer = executor.schedule(next, delay, TimeUnit.MILLISECONDS);
                // A cancelled run drops its timer at once: the timer holds the attempt (a line-JSON call holds its whole
                // request), which would otherwise stay in the heap until the delay ran out, up to a minute.
                result.addListener(r -> timer.cancel(false));
            }
        });
    }
}

package io.outrigger.resilience;

import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Steps the embedded event loop's clock, so the backoff waits are real timers but the test never sleeps. */
class RetrierTest {

    @Test
    void retriesAfterBackoffDelaysOnTheEventLoop() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime(); // the clock moves only when stepped: a slow first run (class loading) is not 1 ms of headroom
        List<Integer> attempts = new ArrayList<>();
        List<Long> delays = new ArrayList<>();
        Future<String> f = Retrier.run(ch.eventLoop(), Backoff.exponential(50, 1000).withMaxRetries(3), t -> true,
                (retry, delay, cause) -> delays.add(delay),
                n -> {
                    attempts.add(n);
                    return n <= 2 ? ch.eventLoop().newFailedFuture(new IOException("fail " + n))
                            : ch.eventLoop().newSucceededFuture("ok " + n);
                });
        assertEquals(List.of(1), attempts);
        ch.advanceTimeBy(49, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertEquals(List.of(1), attempts, "no retry before the first delay ran out");
        ch.advanceTimeBy(1, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertEquals(List.of(1, 2), attempts);
        assertFalse(f.isDone());
        ch.advanceTimeBy(100, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertEquals(List.of(1, 2, 3), attempts);
        assertTrue(f.isSuccess());
        assertEquals("ok 3", f.getNow());
        assertEquals(List.of(50L, 100L), delays);
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void aRunCancelledDuringAnAttemptAsksNoBackoffWhenTheAttemptFails() {
        EmbeddedChannel ch = new EmbeddedChannel();
        List<Integer> attempts = new ArrayList<>();
        List<Integer> backoffAsked = new ArrayList<>();
        List<Long> delays = new ArrayList<>();
        Promise<String> inProgress = ch.eventLoop().newPromise();
        Future<String> f = Retrier.run(ch.eventLoop(), retry -> {
                    backoffAsked.add(retry); // a backoff may take from a retry budget: it must not be asked in vain
                    return 10;
                }, t -> true, (retry, delay, cause) -> delays.add(delay),
                n -> {
                    attempts.add(n);
                    return inProgress;
                });
        assertTrue(f.cancel(false));
        inProgress.setFailure(new IOException("connect timed out"));
        ch.advanceTimeBy(100, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertEquals(List.of(1), attempts);
        assertEquals(List.of(), backoffAsked);
        assertEquals(List.of(), delays);
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void aRunCancelledDuringItsBackoffDropsTheTimer() {
        EmbeddedChannel ch = new EmbeddedChannel();
        List<Integer> attempts = new ArrayList<>();
        Future<String> f = Retrier.run(ch.eventLoop(), Backoff.exponential(60_000, 60_000).withMaxRetries(3), t -> true,
                (retry, delay, cause) -> { },
                n -> {
                    attempts.add(n);
                    return ch.eventLoop().newFailedFuture(new IOException("fail " + n));
                });
        assertTrue(ch.runScheduledPendingTasks() > 0, "the retry waits on a timer");
        assertTrue(f.cancel(false));
        // The timer holds the attempt (a line-JSON call: its whole request): kept until it ran out, a minute of
        // backoff per call of every client that left would pile up in the heap.
        assertEquals(-1, ch.runScheduledPendingTasks(), "the cancelled run's timer is cancelled with it");
        assertEquals(List.of(1), attempts);
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void stopsWhenRetriesAreExhausted() {
        EmbeddedChannel ch = new EmbeddedChannel();
        List<Integer> attempts = new ArrayList<>();
        Future<String> f = Retrier.run(ch.eventLoop(), Backoff.exponential(10, 10).withMaxRetries(2), t -> true,
                (retry, delay, cause) -> { },
                n -> {
                    attempts.add(n);
                    return ch.eventLoop().newFailedFuture(new IOException("fail " + n));
                });
        for (int i = 0; i < 5; i++) {
            ch.advanceTimeBy(10, TimeUnit.MILLISECONDS);
            ch.runScheduledPendingTasks();
        }
        assertEquals(List.of(1, 2, 3), attempts);
        assertEquals("fail 3", f.cause().getMessage());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void doesNotRetryWhatThePredicateRejects() {
        EmbeddedChannel ch = new EmbeddedChannel();
        List<Integer> attempts = new ArrayList<>();
        Future<String> f = Retrier.run(ch.eventLoop(), Backoff.exponential(10, 10).withMaxRetries(5),
                t -> !(t instanceof IllegalStateException), (retry, delay, cause) -> { },
                n -> {
                    attempts.add(n);
                    throw new IllegalStateException("breaker open");
                });
        assertEquals(List.of(1), attempts);
        assertInstanceOf(IllegalStateException.class, f.cause());
        assertFalse(ch.finishAndReleaseAll());
    }
}

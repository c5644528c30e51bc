package io.outrigger.registry.cli;

import java.util.concurrent.CountDownLatch;

/** Keeps a command running until SIGTERM/SIGINT, then closes what it started. */
final class Shutdown {
    private Shutdown() {
    }

    /** Blocks the calling (main) thread until the JVM shuts down; {@code close} runs in the shutdown hook. */
    static void awaitThen(AutoCloseable close) throws InterruptedException {
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                close.close();
            } catch (Exception e) {
                org.slf4j.LoggerFactory.getLogger(Shutdown.class).warn("shutdown: {}", e.toString());
            } finally {
                stopped.countDown();
            }
        }, "registry-stub-shutdown"));
        stopped.await();
    }
}

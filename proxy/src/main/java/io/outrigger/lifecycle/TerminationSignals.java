package io.outrigger.lifecycle;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

import java.util.function.Consumer;

/**
 * Routes SIGTERM and SIGINT to a handler instead of the JVM's default (which runs the shutdown
 * hooks and exits with 128 + the signal number), so a sidecar can drain and exit 0 at its deadline,
 * and a second signal during the drain changes nothing.
 *
 * <p>Uses {@code sun.misc.Signal} (module {@code jdk.unsupported}, present in every OpenJDK build;
 * javac warns that it is internal API): the JDK has no public API for signals. Where a signal
 * cannot be handled, the JVM default stays and the caller's shutdown hook is the fallback.
 */
public final class TerminationSignals {
    private static final Logger log = LoggerFactory.getLogger(TerminationSignals.class);

    private TerminationSignals() {
    }

    /**
     * Calls {@code handler} with the signal's name ({@code TERM} or {@code INT}) on the JVM's signal
     * thread each time one arrives; the handler must return quickly.
     *
     * @return whether both signals are now handled
     */
    public static boolean handle(Consumer<String> handler) {
        boolean all = true;
        for (String name : new String[] {"TERM", "INT"}) {
            try {
                Signal.handle(new Signal(name), s -> handler.accept(s.getName()));
            } catch (IllegalArgumentException e) {
                log.debug("cannot handle SIG{} here ({}); the JVM default applies", name, e.getMessage());
                all = false;
            }
        }
        return all;
    }
}

package io.outrigger.testing;

import java.util.ArrayList;
import java.util.List;

/**
 * What a test started, closed last-first when the test ends: a field marked
 * {@code @AutoClose private final Closer closeables = new Closer();}.
 */
public final class Closer implements AutoCloseable {
    private final List<AutoCloseable> started = new ArrayList<>();

    /** Closes {@code c} when the test ends, before whatever was added earlier; returns it. */
    public <T extends AutoCloseable> T add(T c) {
        started.add(c);
        return c;
    }

    @Override
    public void close() throws Exception {
        for (int i = started.size() - 1; i >= 0; i--) {
            started.get(i).close();
        }
        started.clear();
    }
}

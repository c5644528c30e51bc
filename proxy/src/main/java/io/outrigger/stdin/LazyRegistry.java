package io.outrigger.stdin;

import io.outrigger.discovery.Endpoint;
import io.outrigger.discovery.Registry;

import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * A registry opened on first use: the stdin node answers messages that need no registry
 * ({@code init}, {@code call}) without paying for reading it at start. Thread-safe; the
 * supplier runs at most once.
 */
final class LazyRegistry implements Registry {
    private final Supplier<Registry> opener;
    private volatile Registry registry;

    LazyRegistry(Supplier<Registry> opener) {
        this.opener = opener;
    }

    private Registry registry() {
        Registry r = registry;
        if (r == null) {
            synchronized (this) {
                r = registry;
                if (r == null) {
                    r = opener.get();
                    registry = r;
                }
            }
        }
        return r;
    }

    @Override
    public List<Endpoint> endpoints(String service) {
        return registry().endpoints(service);
    }

    @Override
    public List<Endpoint> listed(String service) {
        return registry().listed(service);
    }

    @Override
    public boolean contains(String service) {
        return registry().contains(service);
    }

    @Override
    public Set<String> services() {
        return registry().services();
    }

    @Override
    public String describe() {
        return registry().describe();
    }

    @Override
    public void close() {
        Registry r = registry;
        if (r != null) {
            r.close();
        }
    }
}

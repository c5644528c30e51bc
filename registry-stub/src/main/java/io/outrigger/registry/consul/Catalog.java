package io.outrigger.registry.consul;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * The registry's in-memory state with Consul-style indexes.
 *
 * <p>One global index counts every change. Each service remembers the index of its last change (kept after its
 * last instance left, so a watcher still sees the removal), and the catalog of service names has its own. A
 * blocking query parks a {@link Waiter} on a key until that key's index moves past the one the client saw; no
 * thread waits. Waiters run after the lock is released.
 *
 * <p>Thread-safe: every method holds the catalog's monitor for a few map operations only.
 */
public final class Catalog {
    private static final Logger log = LoggerFactory.getLogger(Catalog.class);
    /** The key of the service-name list for {@link #await}. */
    public static final String CATALOG_KEY = "";

    /** Told once when its key's index moved (or the catalog closed). */
    @FunctionalInterface
    public interface Waiter {
        void wake();
    }

    /** A consistent reading: the key's index and the value at that index. */
    public record Snapshot<T>(long index, T value) {}

    private final LongSupplier nanos;
    private final Map<String, ServiceInstance> byId = new LinkedHashMap<>();
    private final Map<String, Long> keyIndex = new HashMap<>();
    private final Map<String, List<Waiter>> waiters = new HashMap<>();
    private final List<Consumer<ServiceInstance>> registrationListeners = new ArrayList<>();
    private long index = 1;
    private long serials;

    /** @param nanos a monotonic clock in nanoseconds, for how long instances have been critical */
    public Catalog(LongSupplier nanos) {
        this.nanos = nanos;
    }

    /** Runs {@code listener} (outside the lock) after each registration, e.g. to start its check. */
    public synchronized void onRegistered(Consumer<ServiceInstance> listener) {
        registrationListeners.add(listener);
    }

    /**
     * Adds or replaces the instance with this id. A checked instance starts critical, like Consul's, unless it
     * replaces a checked registration of the same id: then it keeps that one's status until its own check answers, as
     * Consul's agent restores a re-registered check's status, so that registering an instance again does not drop it
     * from {@code ?passing=true} answers. Its time critical counts from now, as Consul's new check state's does.
     */
    public ServiceInstance register(String id, String service, String address, int port, HttpCheck check) {
        List<Waiter> wake = new ArrayList<>();
        ServiceInstance added;
        List<Consumer<ServiceInstance>> listeners;
        synchronized (this) {
            long now = nanos.getAsLong();
            ServiceInstance prev = byId.get(id);
            boolean keep = check != null && prev != null && prev.check() != null;
            boolean passing = keep ? prev.passing() : check == null;
            added = new ServiceInstance(++serials, id, service, address, port, check, passing, now);
            ServiceInstance old = byId.put(id, added);
            index++;
            touch(service, wake);
            if (old != null && !old.service().equals(service)) {
                touch(old.service(), wake);
            }
            touch(CATALOG_KEY, wake);
            listeners = List.copyOf(registrationListeners);
        }
        wakeAll(wake);
        listeners.forEach(l -> l.accept(added));
        return added;
    }

    /** Removes an instance; false when no instance has this id. */
    public boolean deregister(String id) {
        List<Waiter> wake = new ArrayList<>();
        synchronized (this) {
            ServiceInstance old = byId.remove(id);
            if (old == null) {
                return false;
            }
            index++;
            touch(old.service(), wake);
            touch(CATALOG_KEY, wake);
        }
        wakeAll(wake);
        return true;
    }

    /**
     * Records a check result for the registration {@code serial} (ignored if it was replaced or removed):
     * a status change moves the index; an instance critical for longer than its check's
     * {@code deregisterAfterMillis} is removed. Returns the instance as it now stands, or null if gone.
     */
    public ServiceInstance checkResult(String id, long serial, boolean passing) {
        List<Waiter> wake = new ArrayList<>();
        ServiceInstance now;
        synchronized (this) {
            ServiceInstance cur = byId.get(id);
            if (cur == null || cur.serial() != serial) {
                return null;
            }
            long t = nanos.getAsLong();
            now = cur;
            if (cur.passing() != passing) {
                now = cur.withStatus(passing, t);
                byId.put(id, now);
                index++;
                touch(cur.service(), wake);
            }
            long after = cur.check() == null ? 0 : cur.check().deregisterAfterMillis();
            if (!now.passing() && after > 0 && t - now.criticalSince() >= after * 1_000_000L) {
                byId.remove(id);
                log.info("instance {} of {} deregistered: critical for longer than {} ms", id, cur.service(), after);
                index++;
                touch(cur.service(), wake);
                touch(CATALOG_KEY, wake);
                now = null;
            }
        }
        wakeAll(wake);
        return now;
    }

    /** The registration with this id and serial, or null when it was replaced or removed. */
    public synchronized ServiceInstance current(String id, long serial) {
        ServiceInstance cur = byId.get(id);
        return cur != null && cur.serial() == serial ? cur : null;
    }

    /** The instances of a service in registration order (only passing ones when asked). */
    public synchronized Snapshot<List<ServiceInstance>> health(String service, boolean passingOnly) {
        List<ServiceInstance> out = new ArrayList<>();
        for (ServiceInstance i : byId.values()) {
            if (i.service().equals(service) && (!passingOnly || i.passing())) {
                out.add(i);
            }
        }
        return new Snapshot<>(indexOf(service), out);
    }

    /** The names of all services with at least one instance, sorted. */
    public synchronized Snapshot<List<String>> services() {
        TreeMap<String, Boolean> names = new TreeMap<>();
        for (ServiceInstance i : byId.values()) {
            names.put(i.service(), Boolean.TRUE);
        }
        return new Snapshot<>(indexOf(CATALOG_KEY), new ArrayList<>(names.keySet()));
    }

    /**
     * Parks {@code waiter} until the index of {@code key} (a service name or {@link #CATALOG_KEY}) moves past
     * {@code seen}. Returns false, without parking, when it already has, or when {@code seen} is beyond this
     * catalog's index (the client talked to an earlier incarnation): the caller answers at once.
     */
    public synchronized boolean await(String key, long seen, Waiter waiter) {
        if (indexOf(key) > seen || seen > index) {
            return false;
        }
        waiters.computeIfAbsent(key, k -> new ArrayList<>()).add(waiter);
        return true;
    }

    /** Forgets a parked waiter (its query timed out or its connection closed). */
    public synchronized void cancel(String key, Waiter waiter) {
        List<Waiter> list = waiters.get(key);
        if (list != null) {
            list.remove(waiter);
            if (list.isEmpty()) {
                waiters.remove(key);
            }
        }
    }

    /** The number of blocking queries parked now. */
    public synchronized int parked() {
        int n = 0;
        for (List<Waiter> list : waiters.values()) {
            n += list.size();
        }
        return n;
    }

    /** The number of instances registered. */
    public synchronized int size() {
        return byId.size();
    }

    /** The current index of a key: at least 1, as Consul's indexes are. */
    public synchronized long indexOf(String key) {
        return Math.max(1, keyIndex.getOrDefault(key, 1L));
    }

    /** Guarded by this. */
    private void touch(String key, List<Waiter> wake) {
        keyIndex.put(key, index);
        List<Waiter> list = waiters.remove(key);
        if (list != null) {
            wake.addAll(list);
        }
    }

    private static void wakeAll(List<Waiter> wake) {
        for (Waiter w : wake) {
            w.wake();
        }
    }
}

package io.outrigger.upstream;

/**
 * Recognises a failure of this process to allocate memory (a direct buffer refused under
 * {@code -XX:MaxDirectMemorySize}, or Netty's own limit) while it read from or wrote to an upstream:
 * the sidecar's own shortage, which says nothing about the upstream and must not count against its
 * breaker or health (as {@link OutOfDescriptors} for file descriptors).
 */
public final class OutOfMemory {
    private OutOfMemory() {
    }

    /** Whether {@code cause}, or one of its causes (an encoder wraps it), is an {@link OutOfMemoryError}. */
    public static boolean causedBy(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof OutOfMemoryError) {
                return true;
            }
        }
        return false;
    }
}

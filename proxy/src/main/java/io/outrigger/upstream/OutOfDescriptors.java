package io.outrigger.upstream;

/**
 * Recognises a connect that failed because this process is out of file descriptors (EMFILE, or
 * ENFILE for the whole system): the socket could not even be created, so the failure says nothing
 * about the upstream and must not count against its breaker or health.
 */
public final class OutOfDescriptors {
    private OutOfDescriptors() {
    }

    /** Whether {@code cause}, or one of its causes, is EMFILE or ENFILE ("Too many open files [in system]"). */
    public static boolean causedBy(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String message = t.getMessage();
            if (message != null && message.contains("Too many open files")) {
                return true;
            }
        }
        return false;
    }
}

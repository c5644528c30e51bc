package io.outrigger.registry.consul;

import java.net.URI;

/**
 * An instance's HTTP check: {@code GET url} every {@code intervalMillis}; 2xx within
 * {@code timeoutMillis} passes, anything else is critical.
 *
 * @param deregisterAfterMillis remove the instance once critical this long; 0 = never
 */
public record HttpCheck(URI url, long intervalMillis, long timeoutMillis, long deregisterAfterMillis) {
}

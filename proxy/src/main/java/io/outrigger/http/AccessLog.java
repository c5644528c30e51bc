package io.outrigger.http;

import io.outrigger.discovery.Endpoint;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One JSON line per request on the SLF4J logger {@code outrigger.access} (stderr), for
 * example:
 * <pre>
 * {"edge": "outbound", "trace_id": "4bf9...", "request_id": "...", "method": "GET", "path": "/api",
 *  "service": "service-b", "instance": "127.0.0.1:9001", "status": 200, "attempts": 1, "duration_ms": 1.204}
 * </pre>
 * Turn it off with {@code -Dorg.slf4j.simpleLogger.log.outrigger.access=off}. Thread-safe.
 */
final class AccessLog {
    static final Logger LOG = LoggerFactory.getLogger("outrigger.access");

    private AccessLog() {
    }

    static boolean enabled() {
        return LOG.isInfoEnabled();
    }

    static void log(String edge, String traceId, String requestId, String method, String path, String service,
                    Endpoint instance, int status, int attempts, long durationNanos) {
        StringBuilder sb = new StringBuilder(256).append("{\"edge\": \"").append(edge).append("\", \"trace_id\": ");
        JsonText.appendString(sb, traceId).append(", \"request_id\": ");
        JsonText.appendString(sb, requestId).append(", \"method\": ");
        JsonText.appendString(sb, method).append(", \"path\": ");
        JsonText.appendString(sb, path).append(", \"service\": ");
        JsonText.appendString(sb, service).append(", \"instance\": ");
        JsonText.appendString(sb, instance == null ? null : instance.toString());
        long micros = durationNanos / 1000;
        sb.append(", \"status\": ").append(status).append(", \"attempts\": ").append(attempts)
                .append(", \"duration_ms\": ").append(micros / 1000).append('.');
        long frac = micros % 1000;
        if (frac < 100) {
            sb.append('0');
        }
        if (frac < 10) {
            sb.append('0');
        }
        LOG.info(sb.append(frac).append('}').toString());
    }
}

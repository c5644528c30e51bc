package io.outrigger.http;

import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * Keeps an upstream's reason phrase only when it is one HTTP/1.1 allows (RFC 9112 4: tabs,
 * spaces, visible ASCII and obs-text); otherwise the status goes on with its standard phrase.
 * Netty's response decoder takes the phrase as it comes, control characters included, and the
 * sidecar must not relay what its clients' parsers may refuse.
 */
final class ReasonPhrase {
    private ReasonPhrase() {
    }

    /** {@code status}, or the same code with its standard phrase when the phrase has a byte HTTP/1.1 forbids. */
    static HttpResponseStatus clean(HttpResponseStatus status) {
        HttpResponseStatus standard = HttpResponseStatus.valueOf(status.code());
        if (status == standard) {
            return status; // the common case: the decoder handed out the shared constant
        }
        String reason = status.reasonPhrase();
        for (int i = 0, n = reason.length(); i < n; i++) {
            char c = reason.charAt(i);
            if ((c < 0x20 && c != '\t') || c == 0x7f || c > 0xff) {
                return standard;
            }
        }
        return status;
    }
}

package io.outrigger.http;

import io.netty.handler.codec.DefaultHeaders;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.util.AsciiString;
import io.outrigger.upstream.OwnHeaderValues;

/**
 * Header-name validation for the requests the listeners decode: every name a client sends is checked
 * (a token, RFC 9110 5.1) as Netty checks it, but the names the sidecar sets itself on the forwarded
 * request ({@code x-request-id}, {@code traceparent}, {@code X-Forwarded-For}, {@code Via}, ...) are
 * constants, and checking them character by character on every request was about 0.4% of the event
 * loop's time in the benchmark. They are recognised by identity, so a client's own
 * {@code x-request-id} line, a different object, is still checked. Stateless and thread-safe.
 */
final class OwnHeaderNames implements DefaultHeaders.NameValidator<CharSequence> {
    /** The names {@link ForwardedRequest} and {@link MaxForwards} set, as the objects they set them with. */
    private static final AsciiString[] OWN = {
        ProxyExchange.X_REQUEST_ID, ProxyExchange.TRACEPARENT, ForwardedRequest.X_FORWARDED_FOR, HttpHeaderNames.VIA,
        HttpHeaderNames.MAX_FORWARDS, HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderNames.CONNECTION,
    };

    /** The listeners' request headers: Netty's validating factory with this name check, and values checked as {@link OwnHeaderValues} does. */
    static final DefaultHttpHeadersFactory HEADERS = OwnHeaderValues.on(DefaultHttpHeadersFactory.headersFactory()
            .withNameValidator(new OwnHeaderNames(DefaultHttpHeadersFactory.headersFactory().getNameValidator())));

    private final DefaultHeaders.NameValidator<CharSequence> validator;

    OwnHeaderNames(DefaultHeaders.NameValidator<CharSequence> validator) {
        this.validator = validator;
    }

    @Override
    public void validateName(CharSequence name) {
        for (AsciiString own : OWN) {
            if (name == own) {
                return;
            }
        }
        validator.validateName(name);
    }
}

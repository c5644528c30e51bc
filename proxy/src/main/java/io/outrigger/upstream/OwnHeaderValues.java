package io.outrigger.upstream;

import io.netty.handler.codec.DefaultHeaders;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.util.AsciiString;

/**
 * Header-value validation for the heads the sidecar decodes (requests at the listeners, responses from
 * instances): every value read off the wire is checked as Netty checks it (no CR, LF or NUL, RFC 9110
 * 5.5), but the values the sidecar sets itself on each forwarded message, its {@code x-request-id},
 * {@code traceparent} and {@code Via} (and constants such as {@code Connection: close}), are not checked
 * again character by character: that was about 1% of the event loop's time in the benchmark.
 *
 * <p>They are told apart by type. Netty's HTTP decoder makes every value it reads a {@link String};
 * the sidecar makes its own values {@link AsciiString}s, from bytes it wrote itself (ids it generated, a
 * {@code traceparent} built from a parsed and checked one, {@code Via} from the configured name, which
 * must be a token) or from constants; and the upstream decoder makes the values of a plain response's
 * head {@link AsciiString}s after checking their bytes as Netty would ({@link ResponseHead#plainResponse}).
 * A value of any other type is checked. Stateless and thread-safe.
 */
public final class OwnHeaderValues implements DefaultHeaders.ValueValidator<CharSequence> {
    private final DefaultHeaders.ValueValidator<CharSequence> validator;

    private OwnHeaderValues(DefaultHeaders.ValueValidator<CharSequence> validator) {
        this.validator = validator;
    }

    /** {@code factory} with its value check skipped for the sidecar's own values. */
    public static DefaultHttpHeadersFactory on(DefaultHttpHeadersFactory factory) {
        return factory.withValueValidator(new OwnHeaderValues(factory.getValueValidator()));
    }

    @Override
    public void validate(CharSequence value) {
        if (!(value instanceof AsciiString)) {
            validator.validate(value);
        }
    }
}

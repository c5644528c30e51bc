package io.outrigger.upstream;

import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;

/**
 * The trailer sections the HTTP decoders make: Netty's validating trailers, with room for two fields
 * to start with instead of sixteen. A decoder makes one for the end of every message that has a body,
 * nearly always left empty; the map grows if a trailer does arrive. Stateless and thread-safe.
 */
public final class SmallTrailers implements HttpHeadersFactory {
    public static final SmallTrailers INSTANCE = new SmallTrailers();
    private static final DefaultHttpHeadersFactory TRAILERS = DefaultHttpHeadersFactory.trailersFactory();

    private SmallTrailers() {
    }

    @Override
    public HttpHeaders newHeaders() {
        return TRAILERS.newEmptyHeaders();
    }

    @Override
    public HttpHeaders newEmptyHeaders() {
        return TRAILERS.newEmptyHeaders();
    }
}

package io.outrigger.registry.http;

import io.netty.handler.codec.http.QueryStringDecoder;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A request target ({@code /v1/health/service/a%2Fb?index=3}) taken apart once: the raw path and query as the
 * client sent them, the path's segments each percent-decoded exactly once (so an escaped {@code /} stays inside
 * its segment and {@code +} stays a plus), and the decoded query parameters.
 *
 * <p>{@link #parse} decodes the path up front, so a bad escape there ({@code %zz}, {@code %7}, bytes that are not
 * UTF-8) is found before any handler routes on it; the query is decoded when first asked for. One request's, on its
 * event loop.
 */
public final class RequestTarget {
    private final String origin;
    private final String rawPath;
    private final String rawQuery;
    private final List<String> rawSegments;
    private final List<String> segments;
    /** Decoded on first use (event loop only, like the request): null until then. */
    private Map<String, List<String>> parameters;

    private RequestTarget(String origin, String rawPath, String rawQuery, List<String> rawSegments, List<String> segments,
                          Map<String, List<String>> parameters) {
        this.origin = origin;
        this.rawPath = rawPath;
        this.rawQuery = rawQuery;
        this.rawSegments = rawSegments;
        this.segments = segments;
        this.parameters = parameters;
    }

    /**
     * Takes {@code uri} apart; throws {@link IllegalArgumentException} naming the bad part when it cannot be decoded.
     * An absolute-form target ({@code http://host:8500/v1/catalog/services}), which HTTP/1.1 servers must accept,
     * is taken as its path and query.
     */
    public static RequestTarget parse(String uri) {
        String origin = uri.substring(0, originLength(uri));
        String rest = uri.substring(origin.length());
        QueryStringDecoder q = new QueryStringDecoder(origin.isEmpty() || rest.startsWith("/") ? rest : "/" + rest);
        String rawPath = q.rawPath();
        List<String> rawSegments = new ArrayList<>();
        List<String> segments = new ArrayList<>();
        int start = rawPath.startsWith("/") ? 1 : 0;
        while (start <= rawPath.length()) {
            int end = rawPath.indexOf('/', start);
            if (end < 0) {
                end = rawPath.length();
            }
            String raw = rawPath.substring(start, end);
            rawSegments.add(raw);
            segments.add(decodeSegment(raw));
            start = end + 1;
        }
        return new RequestTarget(origin, rawPath, q.rawQuery(), List.copyOf(rawSegments), List.copyOf(segments), null);
    }

    /** The length of the scheme and authority of an absolute-form {@code http://} or {@code https://} target, else 0. */
    private static int originLength(String uri) {
        int authority = uri.regionMatches(true, 0, "http://", 0, 7) ? 7 : uri.regionMatches(true, 0, "https://", 0, 8) ? 8 : -1;
        if (authority < 0) {
            return 0;
        }
        int end = authority;
        while (end < uri.length() && "/?#".indexOf(uri.charAt(end)) < 0) {
            end++;
        }
        return end;
    }

    /**
     * A query that cannot be decoded, found when a handler first asks for its parameters (an echo of the
     * raw target never does, so {@code ?q=50%} is no reason to refuse it); the request handler answers 400.
     */
    public static final class Undecodable extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        Undecodable(String message) {
            super(message);
        }
    }

    /**
     * Percent-decodes one path segment: {@code %XX} becomes that byte, the bytes must be UTF-8, {@code +} is kept.
     * Throws {@link IllegalArgumentException} with the reason on a bad escape.
     */
    public static String decodeSegment(String raw) {
        if (raw.indexOf('%') < 0) {
            return raw;
        }
        ByteBuffer bytes = ByteBuffer.allocate(raw.length() * 3);
        int i = 0;
        while (i < raw.length()) {
            int escape = raw.indexOf('%', i);
            if (escape != i) {
                int end = escape < 0 ? raw.length() : escape;
                bytes.put(raw.substring(i, end).getBytes(StandardCharsets.UTF_8));
                i = end;
                continue;
            }
            int hi = i + 2 < raw.length() ? Character.digit(raw.charAt(i + 1), 16) : -1;
            int lo = hi >= 0 ? Character.digit(raw.charAt(i + 2), 16) : -1;
            if (lo < 0) {
                throw new IllegalArgumentException("path segment \"" + raw + "\": bad escape at index " + i
                        + " (expected: % and two hex digits)");
            }
            bytes.put((byte) (hi << 4 | lo));
            i += 3;
        }
        bytes.flip();
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(bytes).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("path segment \"" + raw + "\": the escaped bytes are not UTF-8");
        }
    }

    /** The target as sent, still encoded: its scheme and authority in absolute form, path ("/" if none) and query. */
    public String asSent() {
        return origin + rawPath + (rawQuery.isEmpty() ? "" : "?" + rawQuery);
    }

    /** The path as sent, still encoded, without the query (nor the scheme and authority of an absolute-form target). */
    public String rawPath() {
        return rawPath;
    }

    /** The query as sent, still encoded, without the {@code ?}; empty when there is none. */
    public String rawQuery() {
        return rawQuery;
    }

    /** The path's segments as sent: {@code /a/b%2Fc} is {@code [a, b%2Fc]}, {@code /} is {@code [""]}. */
    public List<String> rawSegments() {
        return rawSegments;
    }

    /** The path's segments, each decoded once: {@code /a/b%2Fc} is {@code [a, b/c]}. */
    public List<String> segments() {
        return segments;
    }

    /** The decoded query parameters, in order; {@link Undecodable} when the query holds a bad escape. */
    public Map<String, List<String>> parameters() {
        if (parameters == null) {
            try {
                parameters = new QueryStringDecoder(rawQuery, false).parameters();
            } catch (IllegalArgumentException e) {
                throw new Undecodable("query \"" + rawQuery + "\": " + e.getMessage());
            }
        }
        return parameters;
    }

    /** The first value of a query parameter, or null when absent. */
    public String parameter(String name) {
        List<String> v = parameters().get(name);
        return v == null || v.isEmpty() ? null : v.get(0);
    }
}

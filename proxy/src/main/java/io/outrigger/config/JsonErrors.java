package io.outrigger.config;

import java.util.regex.Pattern;

/**
 * Jackson's parser messages, as one line a user can act on. Sources are never included in locations (they
 * may hold what a client or a file sent), so Jackson writes {@code [Source: REDACTED
 * (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 1]}, which reads as if something
 * were hidden: that note is dropped, the position kept ({@code [line: 1, column: 1]}). Stateless.
 */
public final class JsonErrors {
    private static final Pattern SOURCE_NOTE = Pattern.compile("\\[Source: [^;\\]]*\\); ");

    private JsonErrors() {
    }

    /** The first line of {@code message}, without the redacted-source note. */
    public static String firstLine(String message) {
        String s = String.valueOf(message);
        int nl = s.indexOf('\n');
        String first = nl < 0 ? s : s.substring(0, nl);
        return SOURCE_NOTE.matcher(first).replaceAll("[");
    }
}

package io.outrigger.http;

/** Appends JSON string literals with the escaping RFC 8259 requires; no JSON library on the hot path. */
final class JsonText {
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private JsonText() {
    }

    /** Appends {@code s} as a quoted JSON string, or {@code null} when it is null. */
    static StringBuilder appendString(StringBuilder sb, CharSequence s) {
        if (s == null) {
            return sb.append("null");
        }
        sb.append('"');
        int n = s.length();
        int clean = 0;
        while (clean < n && needsNoEscape(s.charAt(clean))) {
            clean++;
        }
        sb.append(s, 0, clean); // the common case, an id or a path: one bulk copy
        for (int i = clean; i < n; i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"':
                    sb.append("\\\"");
                    break;
                case '\\':
                    sb.append("\\\\");
                    break;
                case '\n':
                    sb.append("\\n");
                    break;
                case '\r':
                    sb.append("\\r");
                    break;
                case '\t':
                    sb.append("\\t");
                    break;
                default:
                    if (c < 0x20) {
                        sb.append("\\u00").append(HEX[c >> 4]).append(HEX[c & 0xf]);
                    } else {
                        sb.append(c);
                    }
            }
        }
        return sb.append('"');
    }

    private static boolean needsNoEscape(char c) {
        return c >= 0x20 && c != '"' && c != '\\';
    }
}

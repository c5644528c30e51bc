package io.outrigger.discovery;

/**
 * One network address of a service instance.
 *
 * @param host a host name or IP literal
 * @param port a TCP port, 1..65535
 */
public record Endpoint(String host, int port) {
    public Endpoint {
        if (host == null || host.isEmpty() || !hostChars(host)) {
            throw new IllegalArgumentException("host: " + host + " (expected: a host name or IP address)");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port: " + port + " (expected: 1..65535)");
        }
    }

    /**
     * Letters, digits and {@code - . _} (host names, IPv4), {@code : % [ ]} (IPv6, bracketed or not, with a
     * zone): nothing a URL or a log line could misread.
     */
    private static boolean hostChars(String host) {
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == ':' || c == '%' || c == '[' || c == ']')) {
                return false;
            }
        }
        return true;
    }

    /** Parses {@code host:port}. */
    public static Endpoint parse(String hostPort) {
        int colon = hostPort == null ? -1 : hostPort.lastIndexOf(':');
        if (colon <= 0 || colon == hostPort.length() - 1) {
            throw new IllegalArgumentException(hostPort + " (expected: host:port)");
        }
        try {
            return new Endpoint(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(hostPort + " (expected: host:port)");
        }
    }

    /** {@code host:port} as a URL or a {@code Host} header writes it: an IPv6 literal in brackets. */
    public String authority() {
        return authority(host, port);
    }

    /** {@code host:port} as a URL or a {@code Host} header writes it: an IPv6 literal ({@code ::1}) in brackets. */
    public static String authority(String host, int port) {
        return host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]:" + port : host + ':' + port;
    }

    @Override
    public String toString() {
        return host + ':' + port;
    }
}

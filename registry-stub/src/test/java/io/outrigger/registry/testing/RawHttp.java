package io.outrigger.registry.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Sends bytes exactly as written to a loopback port and reads one answer, for requests java.net.http refuses to
 * send (bad escapes, repeated headers). A server that never answers fails the read after 5 s.
 */
public final class RawHttp {
    private RawHttp() {
    }

    /** One parsed answer: status, header lines in order ({@code name: value}, names lower case) and body. */
    public record Response(int status, List<String> headers, String body) {
        public String header(String name) {
            String prefix = name.toLowerCase(Locale.ROOT) + ":";
            for (String h : headers) {
                if (h.startsWith(prefix)) {
                    return h.substring(prefix.length()).trim();
                }
            }
            return null;
        }
    }

    public static Response exchange(int port, String request) {
        return exchange(port, request.getBytes(StandardCharsets.UTF_8));
    }

    public static Response exchange(int port, byte[] request) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            s.setSoTimeout(5000);
            s.getOutputStream().write(request);
            s.getOutputStream().flush();
            return read(s.getInputStream());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Sends {@code requests} at once on one connection (pipelined) and reads {@code answers} answers in the order they come. */
    public static List<Response> pipeline(int port, String requests, int answers) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            s.setSoTimeout(5000);
            s.getOutputStream().write(requests.getBytes(StandardCharsets.UTF_8));
            s.getOutputStream().flush();
            List<Response> out = new ArrayList<>();
            for (int i = 0; i < answers; i++) {
                out.add(read(s.getInputStream()));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads one answer: the head, then Content-Length bytes of body (or up to the end when it has none). */
    public static Response read(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new AssertionError("the connection closed before a whole answer: " + head);
            }
            head.write(b);
        }
        String[] lines = head.toString(StandardCharsets.UTF_8).split("\r\n");
        if (!lines[0].startsWith("HTTP/1.1 ")) {
            throw new AssertionError("not an HTTP answer: " + head);
        }
        List<String> headers = new ArrayList<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            headers.add(lines[i].substring(0, colon).toLowerCase(Locale.ROOT) + ":" + lines[i].substring(colon + 1));
        }
        Response bare = new Response(Integer.parseInt(lines[0].substring(9, 12)), headers, "");
        String length = bare.header("content-length");
        byte[] body = length != null ? in.readNBytes(Integer.parseInt(length)) : in.readAllBytes();
        return new Response(bare.status(), headers, new String(body, StandardCharsets.UTF_8));
    }
}

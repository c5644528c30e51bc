package io.outrigger.it.harness;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;
import java.util.Locale;

/**
 * HTTP/1.1 by hand over plain sockets on 127.0.0.1, for tests that drive a sidecar where a client
 * library would hide what matters (a connection held across a flood, an answer cut short).
 */
public final class RawHttp1 {
    private RawHttp1() {
    }

    /** The status of the answer to one request on a new connection, or -1 when none came within {@code timeout}. */
    public static int status(int port, String request, Duration timeout) {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout((int) timeout.toMillis());
            return exchange(s, request);
        } catch (IOException e) {
            return -1;
        }
    }

    /** The answer (head and body) to one request on a new connection. */
    public static String answer(int port, String request, Duration timeout) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout((int) timeout.toMillis());
            s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            return readAnswer(s.getInputStream());
        }
    }

    /** Sends one request on {@code s} and reads its answer; its status, or -1 when the connection closed first. */
    public static int exchange(Socket s, String request) throws IOException {
        s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
        String answer = readAnswer(s.getInputStream());
        return answer.length() < 12 ? -1 : Integer.parseInt(answer.substring(9, 12));
    }

    /** One answer, head and Content-Length body, as text; what came before the end of the stream if it ends first. */
    public static String readAnswer(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                return head.toString();
            }
            head.append((char) b);
        }
        int length = 0;
        for (String line : head.toString().split("\r\n")) {
            if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        return head + new String(in.readNBytes(length), StandardCharsets.ISO_8859_1);
    }

    /** Closes every one of {@code sockets} (errors ignored: they are a test's own) and empties the collection. */
    public static void closeAll(Collection<? extends Closeable> sockets) {
        for (Closeable s : sockets) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing a socket of the test: nothing to do
            }
        }
        sockets.clear();
    }
}

package io.outrigger.it.harness;

import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.CountDownLatch;

/**
 * A stand-in component for the harness tests, started as its own JVM:
 * {@code TinyServer PORT [serve|crash|ignore-term]}. {@code serve} answers {@code GET /health}
 * with 200 on 127.0.0.1:PORT; {@code crash} prints a line and exits 3 at once;
 * {@code ignore-term} serves but never finishes its shutdown, so only SIGKILL ends it.
 */
public final class TinyServer {
    private TinyServer() {
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        String mode = args.length > 1 ? args[1] : "serve";
        if (mode.equals("crash")) {
            System.err.println("tiny-server: cannot start (asked to crash)");
            System.exit(3);
        }
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), Integer.parseInt(args[0])), 0);
        server.createContext("/health", exchange -> {
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        server.start();
        System.out.println("tiny-server: listening on " + server.getAddress());
        CountDownLatch never = new CountDownLatch(1);
        if (mode.equals("ignore-term")) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    never.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
        }
        never.await();
    }
}

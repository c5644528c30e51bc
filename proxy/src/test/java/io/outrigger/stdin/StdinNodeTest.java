package io.outrigger.stdin;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.outrigger.SidecarContext;
import io.outrigger.config.SidecarConfig;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.jsonline.JsonLineInitializer;
import io.outrigger.jsonline.JsonLineNode;
import io.outrigger.jsonline.JsonLineTesting;
import io.outrigger.time.Ticker;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static io.outrigger.jsonline.JsonLineTesting.assertReply;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The stdin node in this JVM: real threads, real timers, a pipe for input. */
class StdinNodeTest {
    private static final String RETRY = "{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":1,\"retries\":3,\"base_ms\":100,\"force_failures\":2}}";
    private static final String RETRY_REPLY = "{\"src\":\"service-b\",\"dest\":\"service-a\",\"body\":{\"type\":\"proxied\",\"in_reply_to\":1,"
            + "\"proxied_by\":\"sidecar-a\",\"trace_id\":\"<uuid>\",\"attempts\":3,\"backoff_ms\":[100,200]}}";
    private static final String FAST = "{\"src\":\"c0\",\"dest\":\"n1\",\"body\":{\"type\":\"init\",\"msg_id\":2}}";
    private static final String FAST_REPLY = "{\"src\":\"n1\",\"dest\":\"c0\",\"body\":{\"type\":\"init_ok\",\"in_reply_to\":2,\"msg_id\":0}}";

    private final LineCollector out = new LineCollector();
    private final PipedOutputStream input = new PipedOutputStream();
    private StdinNode node;
    private CompletableFuture<Void> running;

    @AfterEach
    void stop() throws Exception {
        input.close();
        if (running != null) {
            running.get(10, TimeUnit.SECONDS);
        }
        if (node != null) {
            node.close();
        }
    }

    private void start() throws Exception {
        start(new PipedInputStream(input, 1 << 16));
    }

    private void start(java.io.InputStream in) throws Exception {
        start(JsonLineTesting.node(), out, in);
    }

    /** A node with a 100 ms drain time writing to {@code stdout}, running on {@code in} in the background. */
    private void startShortDrain(OutputStream stdout, java.io.InputStream in) throws Exception {
        start(new JsonLineNode(new SidecarContext(SidecarConfig.defaults(), FileRegistry.embedded(), Ticker.system()), null, 100),
                stdout, in);
    }

    private void start(JsonLineNode jsonLineNode, OutputStream stdout, java.io.InputStream in) throws Exception {
        node = StdinNode.start(jsonLineNode, stdout);
        running = CompletableFuture.runAsync(() -> {
            try {
                node.run(in);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    private void send(String line) throws IOException {
        input.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        input.flush();
    }

    @Test
    void aWaitingRetryDoesNotHoldUpALaterFastRequest() throws Exception {
        start();
        long start = System.nanoTime();
        send(RETRY);
        send(FAST);
        assertEquals(FAST_REPLY, out.next(), "the fast reply comes first");
        assertReply(RETRY_REPLY, out.next());
        assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(300), "the retry waited 100 + 200 ms");
    }

    @Test
    void endOfInputAnswersWhatIsInFlightThenReturns() throws Exception {
        start();
        send(RETRY);
        input.write("{\"src\":\"c0\",\"dest\":\"n1\",\"body\":{\"type\":\"init\",\"msg_id\":3}}".getBytes(StandardCharsets.UTF_8));
        input.close();
        running.get(5, TimeUnit.SECONDS);
        assertEquals("{\"src\":\"n1\",\"dest\":\"c0\",\"body\":{\"type\":\"init_ok\",\"in_reply_to\":3,\"msg_id\":0}}", out.next(),
                "a last line without a newline is answered");
        assertReply(RETRY_REPLY, out.lines.poll());
    }

    @Test
    void aLargeBurstOfInputIsAnsweredInFullBeforeReturning() throws Exception {
        int lines = 2_000;
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < lines; i++) {
            sb.append("{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":").append(i).append("}}\n");
        }
        start(new java.io.ByteArrayInputStream(sb.toString().getBytes(StandardCharsets.UTF_8)));
        running.get(20, TimeUnit.SECONDS);
        assertEquals(lines, out.lines.size(), "every line answered when run() returns");
    }

    /**
     * The drain time bounds the requests in flight, not the reader of stdout: one that starts reading late (here
     * well after the drain time of 100 ms plus 2 s) still gets every reply, and run() returns only then.
     */
    @Test
    void aStdoutReaderThatReadsLateGetsEveryReply() throws Exception {
        CountDownLatch reading = new CountDownLatch(1);
        OutputStream late = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                awaitReading();
                out.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                awaitReading();
                out.write(b, off, len);
            }

            private void awaitReading() throws IOException {
                try {
                    reading.await();
                } catch (InterruptedException e) {
                    throw new java.io.InterruptedIOException();
                }
            }
        };
        int lines = 500;
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < lines; i++) {
            sb.append("{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":").append(i).append("}}\n");
        }
        startShortDrain(late, new java.io.ByteArrayInputStream(sb.toString().getBytes(StandardCharsets.UTF_8)));
        assertThrows(TimeoutException.class, () -> running.get(3, TimeUnit.SECONDS), "run() returned with its replies unwritten");
        reading.countDown();
        running.get(10, TimeUnit.SECONDS);
        assertEquals(lines, out.lines.size(), "every line answered when run() returns");
    }

    /**
     * As above, with more than the 16 MiB of replies the node lets wait for stdout: the pipeline then stops
     * reading with input still unread when the reader reaches its end, and the drain time must count from
     * the pipeline's reading the end, not the reader's (it dropped replies 2.1 s after the reader's end
     * before); stdout stays unread for 4 s.
     */
    @Test
    void aStdoutReaderThatReadsLateGetsEveryReplyBeyondTheBacklogBound() throws Exception {
        CountDownLatch reading = new CountDownLatch(1);
        CountingLateStream late = new CountingLateStream(reading);
        // Replies of about 60 KB each (an unsupported type is named in its error), a little over 16 MiB in all: the
        // pipeline stops with the last few lines, less than the reader's 1 MiB of credit, unread, and the reader ends.
        int lines = 290;
        String type = "x".repeat(60_000);
        StringBuilder sb = new StringBuilder(lines * 60_100);
        for (int i = 0; i < lines; i++) {
            sb.append("{\"src\":\"c\",\"dest\":\"n\",\"body\":{\"type\":\"").append(type).append("\",\"msg_id\":").append(i).append("}}\n");
        }
        startShortDrain(late, new java.io.ByteArrayInputStream(sb.toString().getBytes(StandardCharsets.UTF_8)));
        assertThrows(TimeoutException.class, () -> running.get(4, TimeUnit.SECONDS), "run() returned with its replies unwritten");
        reading.countDown();
        running.get(30, TimeUnit.SECONDS);
        assertEquals(lines, late.newlines, "every line answered when run() returns");
    }

    /**
     * {@code ... | outrigger stdin | head -1}: once stdout's reader is gone, its replies can only be dropped,
     * so an endless input ends there too and run() returns (it read on for good before).
     */
    @Test
    void anEndlessInputEndsWhenStdoutIsGone() throws Exception {
        OutputStream gone = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("Broken pipe");
            }
        };
        byte[] line = "{\"src\":\"c\",\"dest\":\"n\",\"body\":{\"type\":\"init\",\"msg_id\":1,\"node_id\":\"n\",\"node_ids\":[\"n\"]}}\n"
                .getBytes(StandardCharsets.UTF_8);
        startShortDrain(gone, endless(new byte[0], line));
        running.get(20, TimeUnit.SECONDS);
    }

    /**
     * {@code ... | outrigger stdin | head -1} with a call waiting on its backoff: its reply could only be dropped,
     * so run() returns without waiting the drain time for it (it waited the whole drain time before).
     */
    @Test
    void aStdoutThatIsGoneDoesNotWaitForTheCallsInFlight() throws Exception {
        OutputStream gone = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("Broken pipe");
            }
        };
        String waiting = "{\"src\":\"c\",\"dest\":\"s\",\"body\":{\"type\":\"call\",\"msg_id\":1,\"retries\":1,\"base_ms\":60000,"
                + "\"force_failures\":1}}\n";
        String init = "{\"src\":\"c\",\"dest\":\"n\",\"body\":{\"type\":\"init\",\"msg_id\":2,\"node_id\":\"n\",\"node_ids\":[\"n\"]}}\n";
        byte[] line = init.getBytes(StandardCharsets.UTF_8);
        byte[] first = waiting.getBytes(StandardCharsets.UTF_8);
        start(new JsonLineNode(new SidecarContext(SidecarConfig.defaults(), FileRegistry.embedded(), Ticker.system()), null, 60_000),
                gone, endless(first, line));
        running.get(20, TimeUnit.SECONDS); // the drain time is 60 s
    }

    /** An input that never ends: {@code first}, then {@code repeated} over and over. */
    private static java.io.InputStream endless(byte[] first, byte[] repeated) {
        return new java.io.InputStream() {
            private long pos;

            @Override
            public int read() {
                int b = pos < first.length ? first[(int) pos] : repeated[(int) ((pos - first.length) % repeated.length)];
                pos++;
                return b;
            }

            @Override
            public int read(byte[] b, int off, int len) {
                for (int i = 0; i < len; i++) {
                    b[off + i] = (byte) read();
                }
                return len;
            }
        };
    }

    /** Blocks every write until {@code reading} opens, then counts the lines written. */
    private static final class CountingLateStream extends OutputStream {
        private final CountDownLatch reading;
        volatile long newlines;

        CountingLateStream(CountDownLatch reading) {
            this.reading = reading;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            try {
                reading.await();
            } catch (InterruptedException e) {
                throw new java.io.InterruptedIOException();
            }
            long n = newlines;
            for (int i = off; i < off + len; i++) {
                if (b[i] == '\n') {
                    n++;
                }
            }
            newlines = n; // one writer thread
        }
    }

    @Test
    void theStdinNodeAndTheTcpListenerRunTheSameHandlers() throws Exception {
        start();
        send(FAST);
        out.next();
        List<String> local = handlerClasses(node.pipelineChannel());

        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        CompletableFuture<Channel> accepted = new CompletableFuture<>();
        JsonLineNode jsonLine = JsonLineTesting.node();
        try {
            Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new JsonLineInitializer(jsonLine, true));
                            accepted.complete(ch);
                        }
                    })
                    .bind("127.0.0.1", 0).sync().channel();
            try (Socket s = new Socket("127.0.0.1", ((java.net.InetSocketAddress) server.localAddress()).getPort())) {
                s.getOutputStream().write((FAST + "\n").getBytes(StandardCharsets.UTF_8));
                assertEquals(FAST_REPLY, new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine());
                Channel child = accepted.get(5, TimeUnit.SECONDS);
                // Only the local channel's adapters come in front: end of stream (TCP has half-close natively) and
                // the reply backlog (a socket's writability already stops reading a peer that does not read).
                assertEquals(List.of("LocalEndOfStreamHandler", "ReplyBacklog"), local.subList(0, 2));
                assertEquals(local.subList(2, local.size()), handlerClasses(child));
            }
            server.close().sync();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
        assertTrue(local.contains("JsonLineDispatcher"), local.toString());
    }

    private static List<String> handlerClasses(Channel ch) throws Exception {
        return ch.eventLoop().submit(() -> {
            List<String> names = new ArrayList<>();
            for (Map.Entry<String, ChannelHandler> e : ch.pipeline()) {
                names.add(e.getValue().getClass().getSimpleName());
            }
            return names;
        }).get(5, TimeUnit.SECONDS);
    }

    /** Collects the lines written to it, as stdout would carry them. */
    static final class LineCollector extends OutputStream {
        final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        private final ByteArrayOutputStream partial = new ByteArrayOutputStream();

        @Override
        public synchronized void write(int b) {
            if (b == '\n') {
                lines.add(partial.toString(StandardCharsets.UTF_8));
                partial.reset();
            } else {
                partial.write(b);
            }
        }

        String next() throws InterruptedException {
            String line = lines.poll(5, TimeUnit.SECONDS);
            assertNotNull(line, "a reply within 5 s");
            return line;
        }
    }
}

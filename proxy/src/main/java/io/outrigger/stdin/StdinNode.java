package io.outrigger.stdin;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalIoHandler;
import io.netty.channel.local.LocalServerChannel;
import io.netty.util.concurrent.DefaultEventExecutorGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutorGroup;
import io.netty.util.concurrent.Promise;
import io.outrigger.discovery.FileRegistry;
import io.outrigger.discovery.Registry;
import io.outrigger.jsonline.JsonLineInitializer;
import io.outrigger.jsonline.JsonLineNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * The line-JSON node on a byte stream pair (stdin/stdout): the caller's thread reads input and
 * feeds it through a Netty {@link LocalChannel} into the same pipeline the TCP listener uses
 * ({@link JsonLineInitializer}); replies come back over the channel to a {@link StdoutWriter}.
 *
 * <pre>
 *   reader thread --ByteBuf--> LocalChannel (stdio loop) ==> [LocalEndOfStreamHandler + JsonLineInitializer pipeline] (jsonline loop)
 *   output stream <-- StdoutWriter (own executor) <-- LocalChannel (stdio loop) <== reply bytes
 *
 * The reader stops while 1 MiB of its input is still unread by the pipeline; the pipeline stops
 * reading while more than 16 MiB of replies wait to be written ({@link ReplyBacklog}), so a
 * reader of stdout that does not read holds up stdin instead of growing the heap.
 * </pre>
 *
 * At end of input the pipeline gets a {@link io.netty.channel.socket.ChannelInputShutdownEvent}
 * (in-band, see {@link LocalEndOfStreamHandler}): the last line without a newline is still read,
 * and once the requests in flight are answered (at most the node's drain time) the writer
 * flushes the last reply; {@link #run(InputStream)} returns then, however long stdout takes to take the replies.
 * One instance serves one input; not thread-safe.
 */
public final class StdinNode implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StdinNode.class);
    private static final int READ_BUFFER_BYTES = 64 * 1024;

    /** Input bytes the reader may have sent that the pipeline has not read yet: bounds memory when input outruns it. */
    private static final int MAX_UNREAD_INPUT_BYTES = 1 << 20;
    /** Reply bytes waiting for stdout above which input is no longer read: bounds memory when stdout is not read. */
    private static final long MAX_WAITING_REPLY_BYTES = 16L << 20;
    /** Reply bytes waiting for stdout at or below which input is read again. */
    private static final long RESUME_WAITING_REPLY_BYTES = 8L << 20;

    private static final AtomicLong ADDRESSES = new AtomicLong();

    private final JsonLineNode node;
    private final EventLoopGroup group;
    private final EventLoopGroup stdioGroup;
    private final Semaphore unreadInput = new Semaphore(MAX_UNREAD_INPUT_BYTES);
    private final EventExecutorGroup stdoutExecutor;
    private final LocalEndOfStreamHandler endOfStream;
    private final ReplyBacklog replyBacklog;
    private final StdoutWriter writer;
    private final Channel client;
    private final Channel server;

    private StdinNode(JsonLineNode node, OutputStream out) throws InterruptedException {
        this.node = node;
        this.group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("outrigger-jsonline", true),
                LocalIoHandler.newFactory());
        this.stdioGroup = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("outrigger-stdio", true),
                LocalIoHandler.newFactory());
        this.stdoutExecutor = new DefaultEventExecutorGroup(1, new DefaultThreadFactory("outrigger-stdout", true));
        this.endOfStream = new LocalEndOfStreamHandler(unreadInput);
        this.replyBacklog = new ReplyBacklog(MAX_WAITING_REPLY_BYTES, RESUME_WAITING_REPLY_BYTES);
        this.writer = new StdoutWriter(out, replyBacklog);
        Promise<Channel> accepted = group.next().newPromise();
        // An explicit id: LocalAddress(Class) appends a random UUID, whose SecureRandom costs a cold start ~20 ms.
        LocalAddress address = new LocalAddress("outrigger-stdin-" + ADDRESSES.incrementAndGet());
        JsonLineInitializer pipeline = new JsonLineInitializer(node, true); // the harness's own input: every bad line reported
        try {
            new ServerBootstrap().group(group).channel(LocalServerChannel.class)
                    .childHandler(new ChannelInitializer<LocalChannel>() {
                        @Override
                        protected void initChannel(LocalChannel ch) {
                            ch.pipeline().addLast("end-of-stream", endOfStream)
                                    .addLast("reply-backlog", replyBacklog).addLast(pipeline);
                            accepted.trySuccess(ch);
                        }
                    })
                    .bind(address).sync();
            // The client side has its own loop: replies reach the writer while the pipeline's loop works through input.
            // A local address needs no name resolution: disabling it spares loading Netty's resolver classes.
            this.client = new Bootstrap().group(stdioGroup).channel(LocalChannel.class).disableResolver()
                    .handler(new ChannelInitializer<LocalChannel>() {
                        @Override
                        protected void initChannel(LocalChannel ch) {
                            ch.pipeline().addLast(stdoutExecutor, "stdout", writer);
                        }
                    })
                    .connect(address).sync().channel();
            this.server = accepted.sync().getNow();
        } catch (InterruptedException | RuntimeException e) {
            shutdown();
            throw e;
        }
    }

    /**
     * Sets the Netty system properties a short-lived single-connection process starts faster
     * with, unless already set; call before any Netty class initialises. Plain buffers instead of
     * the pooling allocator; no OS classifiers (Netty reads /etc/os-release for them, only to load
     * native transports, which this node does not use); a random process id
     * and machine id for channel ids instead of ProcessHandle and Netty's scan of the
     * network interfaces for a MAC address (Netty's own fallback is random bytes too; a local
     * channel's id only needs to be unique in this process).
     */
    public static void configureNettyForFastStart() {
        setIfAbsent("io.netty.allocator.type", "unpooled");
        setIfAbsent("io.netty.osClassifiers", "");
        // The id Netty mixes into channel ids: asking ProcessHandle for the pid starts its reaper machinery.
        setIfAbsent("io.netty.processId", Integer.toString(ThreadLocalRandom.current().nextInt(1, 1 << 22)));
        if (System.getProperty("io.netty.machineId") == null) {
            byte[] id = new byte[8];
            ThreadLocalRandom.current().nextBytes(id);
            StringBuilder mac = new StringBuilder(23);
            for (byte b : id) {
                mac.append(mac.length() == 0 ? "" : ":").append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
            }
            System.setProperty("io.netty.machineId", mac.toString());
        }
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    /** The embedded default registry, read when a message first needs it. */
    public static Registry embeddedRegistry() {
        return new LazyRegistry(new Supplier<Registry>() { // a class, not a method reference: no lambda bootstrap at start
            @Override
            public Registry get() {
                return FileRegistry.embedded();
            }
        });
    }

    /** Starts a node whose replies go to {@code out}. */
    public static StdinNode start(JsonLineNode node, OutputStream out) throws InterruptedException {
        return new StdinNode(node, out);
    }

    /**
     * Reads {@code in} to its end, feeding the pipeline; then waits for the pipeline to read it all (unbounded:
     * it waits for stdout's reader while too many replies are unread), for the requests in flight
     * to be answered (bounded by the node's drain time) and for every reply to be written (unbounded:
     * a reader of stdout that reads late still gets them all; one that is gone makes the writes fail fast).
     * A read error counts as end of input, and so does a stdout that can no longer be written; then, as the
     * replies can only be dropped, the requests in flight are cancelled rather than waited for.
     */
    public void run(InputStream in) throws InterruptedException {
        byte[] chunk = new byte[READ_BUFFER_BYTES];
        try {
            int n;
            // Input ends too when stdout's reader is gone (`... | outrigger stdin | head -1`): its replies would only be
            // dropped, and an endless input would keep the node up for good.
            while (!writer.broken() && (n = in.read(chunk)) >= 0) {
                if (n > 0) {
                    unreadInput.acquire(n);
                    ByteBuf buf = client.alloc().buffer(n).writeBytes(chunk, 0, n);
                    client.writeAndFlush(buf);
                }
            }
        } catch (IOException e) {
            log.warn("cannot read stdin ({}); treating it as end of input", e.toString());
        }
        if (writer.broken()) {
            // Nobody reads the replies any more: the requests in flight (a retry may wait on a backoff of a minute)
            // are not waited for. Closing the channel cancels them.
            client.close().await(2, TimeUnit.SECONDS);
            return;
        }
        client.writeAndFlush(LocalEndOfStreamHandler.END_OF_INPUT);
        // The requests in flight get the drain time (the pipeline closes by then at the latest); the replies
        // then take as long as the reader of stdout takes to read them, as for any process writing to a pipe.
        // The drain time counts from the pipeline's reading the end, not the reader's: while more than 16 MiB of
        // replies wait for a reader of stdout, the pipeline holds up to 1 MiB of input it has not read yet.
        long waitMillis = node.drainMillis() + 2_000;
        try {
            endOfStream.inputEnded().get();
            endOfStream.outputEnded().get(waitMillis, TimeUnit.MILLISECONDS);
            writer.finished().get();
        } catch (ExecutionException | TimeoutException e) {
            log.warn("replies were not finished {} ms after end of input", waitMillis);
        }
        client.close().await(2, TimeUnit.SECONDS);
    }

    /** The server side of the local channel: the line-JSON pipeline (for tests). */
    Channel pipelineChannel() {
        return server;
    }

    @Override
    public void close() {
        client.close();
        shutdown();
    }

    private void shutdown() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
        stdioGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
        // Let the writer finish: its pending tasks hold the last replies and the final flush.
        stdoutExecutor.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
    }
}

package io.outrigger.bench;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The load driver of {@code bench/jsonline-bench.sh} (a benchmark, not a test): runs a command
 * and prints one number.
 *
 * <pre>
 *   startup RUNS -- CMD...   median ms from process start to the first reply line (an init)
 *   startup-discover RUNS -- CMD...   the same with a discover (reads the registry)
 *   exit RUNS -- CMD...      median ms from process start to exit (for java -version)
 *   compare RUNS KIND CMD... [-- KIND CMD...]...   the medians (one line, in order) of several commands run
 *                            in turn, once each per round, so load drift hits them alike; KIND is init
 *                            (start to first init reply), discover (to first discover reply) or exit
 *   stdin COUNT -- CMD...    call lines per second through the process's stdin/stdout
 *   tcp COUNT -- CMD...      call lines per second through the jsonline listener the command logs
 * </pre>
 *
 * Throughput runs send 100,000 warm-up lines first (JIT compilation) and time COUNT more, from the first byte
 * written to the last reply read.
 */
public final class JsonLineBench {
    private static final int WARMUP = 100_000;
    private static final byte[] INIT = "{\"src\":\"c0\",\"dest\":\"n1\",\"body\":{\"type\":\"init\",\"msg_id\":1}}\n".getBytes(StandardCharsets.UTF_8);
    private static final byte[] DISCOVER = "{\"src\":\"s\",\"dest\":\"r\",\"body\":{\"type\":\"discover\",\"msg_id\":1,\"service\":\"service-b\"}}\n"
            .getBytes(StandardCharsets.UTF_8);
    private static final Pattern BOUND = Pattern.compile("jsonline listener bound on [^:]+:(\\d+)");

    private JsonLineBench() {
    }

    public static void main(String[] args) throws Exception {
        int n = Integer.parseInt(args[1]);
        List<String> cmd = Arrays.asList(args).subList(3, args.length);
        switch (args[0]) {
            case "startup" -> System.out.println(median(n, () -> startup(cmd, INIT, "init_ok")));
            case "startup-discover" -> System.out.println(median(n, () -> startup(cmd, DISCOVER, "discovered")));
            case "exit" -> System.out.println(median(n, () -> exit(cmd)));
            case "compare" -> System.out.println(compare(n, Arrays.asList(args).subList(2, args.length)));
            case "stdin" -> System.out.println(stdin(n, cmd));
            case "tcp" -> System.out.println(tcp(n, cmd));
            default -> throw new IllegalArgumentException("mode: " + args[0] + " (expected: startup, exit, stdin or tcp)");
        }
    }

    interface Run {
        double millis() throws Exception;
    }

    private static long median(int runs, Run run) throws Exception {
        double[] t = new double[runs];
        for (int i = 0; i < runs; i++) {
            t[i] = run.millis();
        }
        Arrays.sort(t);
        return Math.round(runs % 2 == 1 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2);
    }

    private static String compare(int runs, List<String> spec) throws Exception {
        List<List<String>> groups = new ArrayList<>();
        groups.add(new ArrayList<>());
        for (String arg : spec) {
            if (arg.equals("--")) {
                groups.add(new ArrayList<>());
            } else {
                groups.get(groups.size() - 1).add(arg);
            }
        }
        List<Run> commands = new ArrayList<>();
        for (List<String> group : groups) {
            List<String> cmd = group.subList(1, group.size());
            commands.add(switch (group.get(0)) {
                case "init" -> () -> startup(cmd, INIT, "init_ok");
                case "discover" -> () -> startup(cmd, DISCOVER, "discovered");
                case "exit" -> () -> exit(cmd);
                default -> throw new IllegalArgumentException("kind: " + group.get(0) + " (expected: init, discover or exit)");
            });
        }
        double[][] t = new double[commands.size()][runs];
        for (int r = 0; r < runs; r++) {
            for (int c = 0; c < commands.size(); c++) {
                t[c][r] = commands.get(c).millis();
            }
        }
        StringBuilder medians = new StringBuilder();
        for (double[] times : t) {
            Arrays.sort(times);
            double m = runs % 2 == 1 ? times[runs / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2;
            medians.append(medians.length() == 0 ? "" : " ").append(Math.round(m));
        }
        return medians.toString();
    }

    private static double startup(List<String> cmd, byte[] request, String replyType) throws Exception {
        long start = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        p.getOutputStream().write(request);
        p.getOutputStream().flush();
        String line = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)).readLine();
        double ms = (System.nanoTime() - start) / 1e6;
        if (line == null || !line.contains(replyType)) {
            throw new IllegalStateException("no " + replyType + " from " + cmd + ": " + line);
        }
        p.getOutputStream().close();
        p.waitFor(10, TimeUnit.SECONDS);
        return ms;
    }

    private static double exit(List<String> cmd) throws Exception {
        long start = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        p.waitFor();
        return (System.nanoTime() - start) / 1e6;
    }

    private static long stdin(int count, List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            return throughput(count, p.getOutputStream(), p.getInputStream());
        } finally {
            p.getOutputStream().close();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static long tcp(int count, List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            BufferedReader err = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8));
            int port = -1;
            for (String line; port < 0 && (line = err.readLine()) != null; ) {
                Matcher m = BOUND.matcher(line);
                if (m.find()) {
                    port = Integer.parseInt(m.group(1));
                }
            }
            if (port < 0) {
                throw new IllegalStateException("the sidecar logged no jsonline port");
            }
            CompletableFuture.runAsync(() -> err.lines().forEach(l -> { }));
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setTcpNoDelay(true);
                return throughput(count, s.getOutputStream(), s.getInputStream());
            }
        } finally {
            p.destroy();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** Sends warm-up then {@code count} call lines from a writer thread; counts replies here. */
    private static long throughput(int count, OutputStream rawOut, InputStream rawIn) throws Exception {
        OutputStream out = new BufferedOutputStream(rawOut, 1 << 16);
        InputStream in = new BufferedInputStream(rawIn, 1 << 16);
        List<byte[]> batches = new ArrayList<>();
        batches.add(lines(0, WARMUP));
        batches.add(lines(WARMUP, count));
        CompletableFuture<Void> warm = new CompletableFuture<>();
        long[] start = new long[1];
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            try {
                out.write(batches.get(0));
                out.flush();
                warm.join();
                start[0] = System.nanoTime();
                out.write(batches.get(1));
                out.flush();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        readLines(in, WARMUP);
        warm.complete(null);
        readLines(in, count);
        long end = System.nanoTime();
        writer.get(10, TimeUnit.SECONDS);
        return Math.round(count / ((end - start[0]) / 1e9));
    }

    private static byte[] lines(int from, int count) {
        StringBuilder sb = new StringBuilder(count * 110);
        for (int i = from; i < from + count; i++) {
            sb.append("{\"src\":\"service-a\",\"dest\":\"service-b\",\"body\":{\"type\":\"call\",\"msg_id\":")
                    .append(i).append(",\"path\":\"/api/users/123\"}}\n");
        }
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static void readLines(InputStream in, int count) throws IOException {
        int seen = 0;
        while (seen < count) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("end of replies after " + seen + " of " + count);
            }
            if (b == '\n') {
                seen++;
            }
        }
    }
}

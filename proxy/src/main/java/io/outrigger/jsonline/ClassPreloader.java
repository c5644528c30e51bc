package io.outrigger.jsonline;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Loads and initialises the classes the first line needs (Jackson's parser, tree nodes and
 * generator: about 150 classes) on a background thread, while the caller's thread sets up
 * Netty: a cold start then pays for the two sets of classes side by side rather than one after
 * the other. Touches no shared state and produces no output; a failure only forgoes the head start.
 */
public final class ClassPreloader implements Runnable {
    private static final byte[] SAMPLE = ("{\"src\":\"c\",\"dest\":\"n\",\"body\":{\"type\":\"init\",\"msg_id\":1,"
            + "\"node_ids\":[\"n\"],\"ok\":true,\"x\":null,\"f\":1.5}}").getBytes(StandardCharsets.UTF_8);

    private ClassPreloader() {
    }

    /** Starts the preloading on a daemon thread (not a lambda: that would bootstrap invokedynamic first). */
    public static void startInBackground() {
        Thread t = new Thread(new ClassPreloader(), "outrigger-preload");
        t.setDaemon(true);
        t.start();
    }

    @Override
    public void run() {
        try {
            JsonNode root = Json.parse(SAMPLE, 0, SAMPLE.length);
            try (JsonGenerator g = Json.FACTORY.createGenerator(new ByteArrayOutputStream(SAMPLE.length))) {
                Json.write(g, root);
            }
        } catch (IOException e) {
            // Cannot happen with the constant sample; the first real line then loads the classes itself.
        }
    }
}

package io.outrigger.jsonline;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/**
 * Loads the classes a cold start of the line-JSON node needs on a background thread while the
 * caller's thread sets up Netty, so a cold start pays for them side by side rather than one after
 * the other: first Jackson's parser, tree nodes and generator (initialised by parsing and writing
 * a sample line), then the classes named in {@code preload-classes.txt} next to this class (loaded,
 * not initialised: their static initialisers still run on the thread that first uses them).
 * The list comes from {@code proxy/src/appcds/update-preload-list.sh}; a name that no longer
 * exists is skipped. Touches no shared state and writes nothing; a failure only forgoes the head start.
 */
public final class ClassPreloader implements Runnable {
    /** The resource, next to this class, listing one class name per line. */
    static final String LIST = "preload-classes.txt";

    private static final byte[] SAMPLE = ("{\"src\":\"c\",\"dest\":\"n\",\"body\":{\"type\":\"init\",\"msg_id\":1,"
            + "\"node_ids\":[\"n\"],\"ok\":true,\"x\":null}}").getBytes(StandardCharsets.UTF_8);

    ClassPreloader() {
    }

    /** Starts the preloading on a daemon thread (a Runnable class, not a lambda: that would bootstrap invokedynamic first). */
    public static void startInBackground() {
        Thread t = new Thread(new ClassPreloader(), "outrigger-preload");
        t.setDaemon(true);
        t.start();
    }

    @Override
    public void run() {
        try {
            JsonNode root = Json.parseAscii(SAMPLE, 0, SAMPLE.length);
            try (JsonGenerator g = Json.FACTORY.createGenerator(new ByteArrayOutputStream(SAMPLE.length))) {
                Json.write(g, root);
            }
        } catch (IOException e) {
            // Cannot happen with the constant sample; the first real line then loads these classes itself.
        }
        ClassLoader loader = ClassPreloader.class.getClassLoader();
        InputStream list = ClassPreloader.class.getResourceAsStream(LIST);
        if (list == null) {
            return;
        }
        try (BufferedReader names = new BufferedReader(new InputStreamReader(list, StandardCharsets.UTF_8))) {
            for (String name = names.readLine(); name != null; name = names.readLine()) {
                load(name, loader);
            }
        } catch (IOException e) {
            // The jar cannot be read: the classes the node needs will fail to load on its own thread too, and say so there.
        }
    }

    private static void load(String name, ClassLoader loader) {
        try {
            Class.forName(name, false, loader);
        } catch (ClassNotFoundException | LinkageError e) {
            // A stale entry (the list outlived a dependency upgrade): the class is simply not preloaded.
        }
    }
}

package io.outrigger.it.harness;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the built jars and the log directory are, relative to the project root.
 *
 * <p>The root is the {@code outrigger.root} system property when set (the it-tests surefire
 * configuration sets it), else the working directory. Immutable.
 *
 * @param root the project root (the directory holding {@code proxy/}, {@code registry-stub/}, {@code it-tests/})
 */
public record ProjectLayout(Path root) {

    /** The layout of the project the current JVM runs in: {@code -Doutrigger.root} or the working directory. */
    public static ProjectLayout current() {
        String prop = System.getProperty("outrigger.root");
        return new ProjectLayout(Path.of(prop == null || prop.isBlank() ? "" : prop).toAbsolutePath().normalize());
    }

    /** {@code proxy/target/outrigger.jar}: the sidecar. */
    public Path proxyJar() {
        return root.resolve("proxy/target/outrigger.jar");
    }

    /** {@code registry-stub/target/registry-stub.jar}: the registry stub and the fake services. */
    public Path registryStubJar() {
        return root.resolve("registry-stub/target/registry-stub.jar");
    }

    /** {@code it-tests/target/it-logs}: one log file per started process, and the generated configs. */
    public Path logDir() {
        return root.resolve("it-tests/target/it-logs");
    }

    /** Throws with the build command to run when a jar this harness starts is missing. */
    public void requireJars() {
        for (Path jar : new Path[] {proxyJar(), registryStubJar()}) {
            if (!Files.isRegularFile(jar)) {
                throw new IllegalStateException(jar + " not found: build it first (mvn -B -q package -DskipTests)"
                        + " or point --root / -Doutrigger.root at the project root");
            }
        }
    }
}

package io.outrigger.it.compose;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import io.outrigger.cli.Main;
import io.outrigger.config.ConfigLoader;
import io.outrigger.config.SidecarConfig;
import io.outrigger.it.harness.ProjectLayout;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Keeps {@code config/compose/docker-compose.yml} valid without a Docker engine: it must validate
 * against the Compose Specification schema, and agree with the code it starts (jars, Dockerfiles,
 * sidecar configs, ports, command-line flags), so neither side can drift unnoticed.
 */
class ComposeFileTest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final ObjectMapper JSON = new ObjectMapper();
    /**
     * The registry stub's commands and flags as the interface contract documents them, plus two
     * of the stub's own options: {@code --host} (bind address, 127.0.0.1 by default: a container
     * must bind 0.0.0.0 to be reached by its neighbours) and {@code --instance-id} (two instances
     * on the same port in different containers need names of their own).
     */
    private static final Map<String, Set<String>> DOCUMENTED_STUB_FLAGS = Map.of(
            "registry", Set.of("--host", "--port", "--seed"),
            "fake-service", Set.of("--name", "--instance-id", "--port", "--register", "--fail-rate", "--latency-ms"));

    private static Path root;
    private static Path composeDir;
    private static JsonNode compose;

    @BeforeAll
    static void load() throws IOException {
        root = ProjectLayout.current().root();
        composeDir = root.resolve("config/compose");
        compose = YAML.readTree(composeDir.resolve("docker-compose.yml").toFile());
    }

    @Test
    void validatesAgainstTheComposeSpecification() throws IOException {
        Path schemaFile = root.resolve("../shared/schemas/compose-spec.json").normalize();
        if (!Files.isRegularFile(schemaFile)) {
            String reason = "compose schema " + schemaFile + " not found (it sits beside the project in CI and on developer machines)";
            System.err.println("SKIPPED: " + reason);
            Assumptions.abort(reason);
        }
        JsonSchema schema = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V7).getSchema(schemaFile.toUri(), JSON.readTree(schemaFile.toFile())); // the file URI is the base of its relative $id

        Set<ValidationMessage> errors = schema.validate(compose);
        assertTrue(errors.isEmpty(), "docker-compose.yml does not follow the Compose Specification: " + errors);

        // The validator must be able to say no: a broken copy is rejected.
        ObjectNode broken = compose.deepCopy();
        ((ObjectNode) broken.path("services").path("sidecar-a")).put("network_mode", 42).put("not_a_compose_key", true);
        assertFalse(schema.validate(broken).isEmpty(), "a compose file with a numeric network_mode and an unknown key validated");
    }

    @Test
    void buildsFromDockerfilesAndJarsThatExist() throws IOException {
        int built = 0;
        for (Map.Entry<String, JsonNode> service : services().entrySet()) {
            JsonNode build = service.getValue().path("build");
            if (build.isMissingNode()) {
                continue;
            }
            built++;
            Path context = composeDir.resolve(build.path("context").asText()).normalize();
            assertTrue(Files.isDirectory(context), service.getKey() + ": build context " + context + " is not a directory");
            Path dockerfile = context.resolve(build.path("dockerfile").asText("Dockerfile"));
            assertTrue(Files.isRegularFile(dockerfile), service.getKey() + ": " + dockerfile + " not found");
            List<String> lines = Files.readAllLines(dockerfile);
            assertTrue(lines.stream().anyMatch(l -> l.trim().equals("FROM eclipse-temurin:17-jre")),
                    dockerfile + ": base image must be eclipse-temurin:17-jre");
            // A JVM out of memory can live on with dead event loops, answering nothing; exiting lets the restart policy act.
            assertTrue(lines.stream().anyMatch(l -> l.startsWith("ENTRYPOINT [\"java\"") && l.contains("\"-XX:+ExitOnOutOfMemoryError\"")),
                    dockerfile + ": the JVM must exit on OutOfMemoryError");
            for (String line : lines) {
                String[] words = line.trim().split("\\s+");
                if (words[0].equals("COPY")) {
                    assertBuiltOrPresent(context, words[1], dockerfile);
                }
            }
        }
        assertEquals(services().size(), built, "every service is built from this project's Dockerfiles");
    }

    /** A COPY source exists, or is a fat jar that its module's pom builds ({@code <module>/target/<name>.jar}). */
    private static void assertBuiltOrPresent(Path context, String source, Path dockerfile) throws IOException {
        Path path = context.resolve(source).normalize();
        if (Files.exists(path)) {
            return;
        }
        String[] parts = source.split("/");
        assertEquals(3, parts.length, dockerfile + ": COPY " + source + " neither exists nor is <module>/target/<jar>");
        assertEquals("target", parts[1], dockerfile + ": COPY " + source + " neither exists nor is <module>/target/<jar>");
        Path pom = context.resolve(parts[0]).resolve("pom.xml");
        assertTrue(Files.isRegularFile(pom), dockerfile + ": COPY " + source + ": no module " + parts[0]);
        assertTrue(Files.readString(pom).contains("<outputFile>${project.build.directory}/" + parts[2] + "</outputFile>"),
                dockerfile + ": COPY " + source + ": " + pom + " does not build " + parts[2]);
    }

    @Test
    void everyMountedFileExists() {
        for (Map.Entry<String, JsonNode> service : services().entrySet()) {
            for (JsonNode volume : service.getValue().path("volumes")) {
                Path source = composeDir.resolve(volume.asText().split(":")[0]).normalize();
                assertTrue(Files.isRegularFile(source), service.getKey() + ": mounts " + source + ", which does not exist");
            }
        }
    }

    @Test
    void sidecarConfigsLoadAndAgreeWithPortsHealthchecksAndApps() throws Exception {
        int registryPort = intFlag(command("registry"), "--port");
        List<String> sidecars = new ArrayList<>();
        for (Map.Entry<String, JsonNode> entry : services().entrySet()) {
            String name = entry.getKey();
            JsonNode service = entry.getValue();
            List<String> cmd = command(name);
            if (!cmd.get(0).equals("run")) {
                continue;
            }
            sidecars.add(name);
            Main.commandLine().parseArgs(cmd.toArray(String[]::new)); // throws if the sidecar's CLI no longer takes these flags
            SidecarConfig config = ConfigLoader.load(mountedFile(name, stringFlag(cmd, "--config")));

            assertEquals("0.0.0.0", config.bindAddress(), name + ": containers must bind 0.0.0.0");
            assertEquals("http://registry:" + registryPort, config.registry(), name + ": registry address");
            assertTrue(config.listeners().admin() != null, name + ": no admin listener for the healthcheck");
            URI probe = healthcheckUrl(name);
            assertEquals(config.listeners().admin().port(), probe.getPort(), name + ": healthcheck port is not the admin port");
            assertEquals("/ready", probe.getPath(), name + ": healthcheck path");

            String mode = service.path("network_mode").asText();
            assertTrue(mode.startsWith("service:"), name + ": must share its service's network namespace, got " + mode);
            String app = mode.substring("service:".length());
            assertTrue(services().containsKey(app), name + ": network_mode names unknown service " + app);
            assertTrue(service.path("depends_on").has(app), name + ": must depend on " + app);
            List<String> appCmd = command(app);
            assertEquals("fake-service", appCmd.get(0), name + ": " + app + " is not a fake service");
            assertTrue(config.listeners().inbound() != null, name + ": no inbound listener");
            assertEquals("127.0.0.1", config.listeners().inbound().app().host(), name + ": the app is reached over the shared loopback");
            assertEquals(intFlag(appCmd, "--port"), config.listeners().inbound().app().port(), name + ": inbound app port vs " + app + " --port");
            assertEquals(config.service(), stringFlag(appCmd, "--name"), name + ": service vs " + app + " --name");

            Set<Integer> listening = new HashSet<>(List.of(intFlag(appCmd, "--port"), config.listeners().admin().port(),
                    config.listeners().inbound().port()));
            JsonNode proxyEnv = services().get(app).path("environment").path("HTTP_PROXY");
            if (config.listeners().outbound() != null) {
                listening.add(config.listeners().outbound().port());
                assertEquals("http://127.0.0.1:" + config.listeners().outbound().port(), proxyEnv.asText(),
                        app + ": HTTP_PROXY must point at " + name + "'s outbound listener");
            } else {
                assertTrue(proxyEnv.isMissingNode(), app + ": HTTP_PROXY set but " + name + " has no outbound listener");
            }
            for (JsonNode port : services().get(app).path("ports")) {
                String[] parts = port.asText().split(":");
                int containerPort = Integer.parseInt(parts[parts.length - 1]);
                assertTrue(listening.contains(containerPort), app + ": publishes " + containerPort + ", where nothing listens (" + listening + ")");
            }
        }
        assertEquals(List.of("sidecar-a", "sidecar-b1", "sidecar-b2"), sidecars);
    }

    @Test
    void registryAndFakeServicesUseTheDocumentedCommands() throws Exception {
        for (String name : services().keySet()) {
            List<String> cmd = command(name);
            if (cmd.get(0).equals("run")) {
                continue;
            }
            Set<String> documented = DOCUMENTED_STUB_FLAGS.get(cmd.get(0));
            assertTrue(documented != null, name + ": unknown registry-stub command " + cmd.get(0));
            for (int i = 1; i < cmd.size(); i += 2) {
                assertTrue(documented.contains(cmd.get(i)), name + ": " + cmd.get(i) + " is not a documented flag of " + cmd.get(0));
            }
            URI probe = healthcheckUrl(name);
            assertEquals(intFlag(cmd, "--port"), probe.getPort(), name + ": healthcheck port vs --port");
            assertEquals(cmd.get(0).equals("registry") ? "/v1/catalog/services" : "/health", probe.getPath(), name + ": healthcheck path");
        }

        // The seed lists each service-b instance at the inbound listener of the sidecar in its namespace.
        JsonNode seed = JSON.readTree(mountedFile("registry", stringFlag(command("registry"), "--seed")).toFile());
        int instances = 0;
        for (Map.Entry<String, JsonNode> svc : seed.path("services").properties()) {
            for (JsonNode instance : svc.getValue()) {
                instances++;
                String host = instance.path("host").asText();
                assertEquals(svc.getKey(), stringFlag(command(host), "--name"), "seed: " + host + " does not run " + svc.getKey());
                String sidecar = sidecarOf(host).orElseThrow(() -> new AssertionError("seed: " + host + " has no sidecar"));
                SidecarConfig config = ConfigLoader.load(mountedFile(sidecar, stringFlag(command(sidecar), "--config")));
                assertEquals(config.listeners().inbound().port(), instance.path("port").asInt(),
                        "seed: " + host + " must be listed at " + sidecar + "'s inbound port");
            }
        }
        assertEquals(2, instances, "service-b runs two instances");
    }

    @Test
    void registryStubCliAcceptsTheseCommands() throws Exception {
        Class<?> stubMain;
        try {
            stubMain = Class.forName("io.outrigger.registry.cli.Main");
        } catch (ClassNotFoundException e) {
            fail("io.outrigger.registry.cli.Main (registry-stub's CLI) is not on the classpath");
            return;
        }
        for (String name : services().keySet()) {
            List<String> cmd = command(name);
            if (!cmd.get(0).equals("run")) {
                new CommandLine(stubMain).parseArgs(cmd.toArray(String[]::new)); // throws on an unknown command or flag
            }
        }
    }

    private static Map<String, JsonNode> services() {
        Map<String, JsonNode> out = new LinkedHashMap<>();
        compose.path("services").properties().forEach(e -> out.put(e.getKey(), e.getValue()));
        return out;
    }

    private static List<String> command(String service) {
        JsonNode cmd = compose.path("services").path(service).path("command");
        assertTrue(cmd.isArray() && !cmd.isEmpty(), service + ": command must be a non-empty list");
        List<String> out = new ArrayList<>();
        cmd.forEach(c -> out.add(c.asText()));
        return out;
    }

    private static String stringFlag(List<String> cmd, String flag) {
        int i = cmd.indexOf(flag);
        assertTrue(i > 0 && i + 1 < cmd.size(), "command " + cmd + " has no " + flag + " value");
        return cmd.get(i + 1);
    }

    private static int intFlag(List<String> cmd, String flag) {
        return Integer.parseInt(stringFlag(cmd, flag));
    }

    /** The file on the host that {@code service} mounts at {@code containerPath}. */
    private static Path mountedFile(String service, String containerPath) {
        for (JsonNode volume : compose.path("services").path(service).path("volumes")) {
            String[] parts = volume.asText().split(":");
            if (parts.length >= 2 && parts[1].equals(containerPath)) {
                return composeDir.resolve(parts[0]).normalize();
            }
        }
        throw new AssertionError(service + ": nothing is mounted at " + containerPath);
    }

    private static URI healthcheckUrl(String service) {
        JsonNode test = compose.path("services").path(service).path("healthcheck").path("test");
        assertTrue(test.isArray(), service + ": healthcheck.test must be a CMD list");
        for (JsonNode word : test) {
            if (word.asText().startsWith("http://")) {
                return URI.create(word.asText());
            }
        }
        throw new AssertionError(service + ": the healthcheck probes no http:// URL");
    }

    private static Optional<String> sidecarOf(String app) {
        return services().entrySet().stream()
                .filter(e -> e.getValue().path("network_mode").asText().equals("service:" + app))
                .map(Map.Entry::getKey)
                .findFirst();
    }
}

package io.outrigger.it.scenario;

import io.outrigger.it.harness.ProjectLayout;
import io.outrigger.it.harness.Topology;
import org.testcontainers.junit.jupiter.Testcontainers;

/**
 * The scenarios against the docker-compose topology; skipped (with the reason) where no Docker
 * engine runs.
 */
@Testcontainers(disabledWithoutDocker = true)
class ContainerMeshScenariosTest extends MeshScenarioTests {
    @Override
    protected Topology startTopology() {
        return ComposeTopology.start(ProjectLayout.current());
    }
}

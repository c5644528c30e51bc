package io.outrigger.it.scenario;

import io.outrigger.it.harness.LoopbackTopology;
import io.outrigger.it.harness.ProjectLayout;
import io.outrigger.it.harness.Topology;

/** The scenarios against seven JVMs on 127.0.0.1, started from the built jars. */
class LoopbackMeshScenariosTest extends MeshScenarioTests {
    @Override
    protected Topology startTopology() {
        return LoopbackTopology.start(ProjectLayout.current(), "scenario", System.err::println);
    }
}

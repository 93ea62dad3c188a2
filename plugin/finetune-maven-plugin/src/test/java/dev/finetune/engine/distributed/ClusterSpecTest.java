package dev.finetune.engine.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.runtime.FineTuneException;
import java.util.List;
import org.junit.jupiter.api.Test;

class ClusterSpecTest {
    static final String TWO = "{\"cluster\": {\"worker\": [\"10.0.0.1:2222\", \"10.0.0.2:2222\"]}, "
            + "\"task\": {\"type\": \"worker\", \"index\": 1}}";

    @Test
    void tfConfigNamesTheWorkersAndThisOne() {
        ClusterSpec c = ClusterSpec.resolve(List.of(), null, TWO);
        assertEquals(List.of("10.0.0.1:2222", "10.0.0.2:2222"), c.workers());
        assertEquals(1, c.index());
        assertTrue(c.distributed());
        assertFalse(c.chief());
        assertEquals(2, c.size());
        assertEquals("worker 0 (10.0.0.1:2222)", c.describe(0));
    }

    @Test
    void aChiefJobComesFirst() {
        String json = "{\"cluster\": {\"chief\": [\"c:1\"], \"worker\": [\"w:1\", \"w:2\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}";
        ClusterSpec c = ClusterSpec.resolve(null, null, json);
        assertEquals(List.of("c:1", "w:1", "w:2"), c.workers());
        assertEquals(1, c.index());
        assertEquals(0, ClusterSpec.resolve(null, null, json.replace("\"type\": \"worker\"", "\"type\": \"chief\"")).index());
    }

    @Test
    void thePomWinsOverTfConfigAndTheIndexOverridesIt() {
        ClusterSpec c = ClusterSpec.resolve(List.of("a:1", " b:2 "), 1, TWO);
        assertEquals(List.of("a:1", "b:2"), c.workers());
        assertEquals(0, ClusterSpec.resolve(null, 0, TWO).index());
    }

    @Test
    void noClusterOrOneWorkerIsAProcessAlone() {
        assertEquals(ClusterSpec.SINGLE, ClusterSpec.resolve(null, null, null));
        assertEquals(ClusterSpec.SINGLE, ClusterSpec.resolve(List.of(), 0, " "));
        assertEquals(ClusterSpec.SINGLE, ClusterSpec.resolve(List.of("a:1"), 0, null));
        assertEquals(1, ClusterSpec.SINGLE.size());
        assertTrue(ClusterSpec.SINGLE.chief());
    }

    @Test
    void mistakesAreNamed() {
        assertProblem(() -> ClusterSpec.resolve(null, null, "{cluster"), "TF_CONFIG is not valid JSON");
        assertProblem(() -> ClusterSpec.resolve(null, null, "{\"task\": {}}"), "TF_CONFIG has no \"cluster\" object");
        assertProblem(() -> ClusterSpec.resolve(null, null, TWO.replace("\"index\": 1", "\"index\": 2")),
                "workerIndex 2 is out of range: TF_CONFIG lists 2 workers");
        assertProblem(() -> ClusterSpec.resolve(List.of("a:1", "b:2"), 5, null), "must be 0 to 1");
        assertProblem(() -> ClusterSpec.resolve(List.of("a:1", "b:2"), null, null), "but not which one this is");
        assertProblem(() -> ClusterSpec.resolve(List.of("a:1", ""), 1, null), "Worker 1 (this one) in <cluster> has no address");
        assertProblem(() -> ClusterSpec.resolve(List.of("a:1", "b"), 0, null), "Worker 1 in <cluster> has no port in 'b'");
        assertProblem(() -> ClusterSpec.resolve(List.of("a:1", "b:99999"), 0, null), "no valid port");
        assertProblem(() -> ClusterSpec.resolve(List.of("a:1", "a:1"), 0, null), "names one address twice");
        assertProblem(() -> ClusterSpec.resolve(null, 1, null), "workerIndex is 1 but no cluster is given");
        assertProblem(() -> ClusterSpec.resolve(null, null, "{\"cluster\": {\"ps\": [\"p:1\"], \"worker\": [\"w:1\"]}}"),
                "names a 'ps' job");
        assertProblem(() -> ClusterSpec.resolve(null, null, TWO.replace("\"index\": 1", "\"index\": \"x\"")),
                "has no whole-number \"index\"");
    }

    @Test
    void theConfigurationListsAClusterProblemWithTheOthers() {
        FineTuneConfig c = TestFiles.unreadConfig();
        c.tfConfig = TWO.replace("\"index\": 1", "\"index\": 3");
        c.workerTimeout = 0;
        List<String> problems = c.problems();
        assertEquals(2, problems.size(), problems.toString());
        assertTrue(problems.get(0).startsWith("workerIndex 3 is out of range"), problems.toString());
        FineTuneConfig copy = c.copy();
        assertEquals(c.tfConfig, copy.tfConfig);
    }

    private static void assertProblem(org.junit.jupiter.api.function.Executable e, String expected) {
        FineTuneException x = assertThrows(FineTuneException.class, e);
        assertTrue(x.getMessage().contains(expected), x.getMessage());
    }
}

package dev.finetune.runtime.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.TestFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * When the runtime cannot fuse, it says why ({@link LoadedGraph#fusionProblems}): each probe's failure in TensorFlow's
 * own words. Run in child JVMs, since the probes run once per process and oneDNN is chosen when TensorFlow starts.
 */
class FusionProblemsTest {
    /** TensorFlow with oneDNN turned off has no fused GELU kernel: the GELU probe fails and says so. */
    @Test
    void withoutOneDnnTheGeluProbeSaysWhy() throws Exception {
        String out = java(Map.of("TF_ENABLE_ONEDNN_OPTS", "0"));
        assertTrue(out.contains("float32: dense layers + GELU: this TensorFlow's _FusedMatMul cannot fuse them on this CPU ("), out);
        assertTrue(out.contains("bfloat16: dense layers + GELU: this TensorFlow's _FusedMatMul cannot fuse them on this CPU ("), out);
    }

    /** With oneDNN (TensorFlow's default on x86), nothing keeps the ops apart; each switch says it turned them off. */
    @Test
    void withOneDnnNothingIsMissingAndTheSwitchSaysItsName() throws Exception {
        if (!List.of("amd64", "x86_64").contains(System.getProperty("os.arch"))) {
            return;  // oneDNN's kernels are the x86 build's
        }
        assertEquals("float32: none\nbfloat16: none\n", java(Map.of()));
        assertTrue(java(Map.of(), "-D" + LoadedGraph.FUSING + "=false").contains(
                "float32: dense layers + GELU, layer norms and packed weights: turned off (-Dfinetune.fuseOps=false)"));
        // Weights are packed in bfloat16 only, so only that precision misses them.
        assertEquals("float32: none\nbfloat16: dense layers' weights: not packed (-Dfinetune.packWeights=false)\n",
                java(Map.of(), "-D" + LoadedGraph.PACKING + "=false"));
    }

    private static String java(Map<String, String> environment, String... options) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(TestFiles.javaCommand(Probes.class, List.of(options)))
                .redirectError(ProcessBuilder.Redirect.DISCARD);  // TensorFlow's log
        pb.environment().putAll(environment);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        return out;
    }

    /** Prints each precision's fusion problems on the CPU, a line each ("none" for none). */
    public static final class Probes {
        public static void main(String[] args) {
            for (String precision : List.of("float32", "bfloat16")) {
                List<String> problems = LoadedGraph.fusionProblems(new SessionSettings("cpu", 1, 1, precision, false).resolved());
                System.out.println(precision + ": " + (problems.isEmpty() ? "none" : String.join("; ", problems)));
            }
        }
    }
}

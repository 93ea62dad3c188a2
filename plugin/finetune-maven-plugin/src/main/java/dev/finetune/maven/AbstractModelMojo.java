package dev.finetune.maven;

import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.runtime.FineTunedModel;
import dev.finetune.runtime.encoding.BatchBudget;
import dev.finetune.runtime.model.SessionSettings;
import java.io.File;
import java.util.List;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugins.annotations.Parameter;

/** Goals that use a fine-tuned model rather than make one. */
abstract class AbstractModelMojo extends AbstractFineTuneMojo {
    /** The fine-tuned model: the output folder of {@code train} (of this build or an earlier one). */
    @Parameter(property = "finetune.modelDirectory", defaultValue = "${project.build.directory}/finetune")
    File modelDirectory;

    /**
     * Numeric precision of inference: {@code auto} (bfloat16 on CPUs that multiply bfloat16 natively, AVX512-BF16 or
     * AMX; float32 elsewhere), {@code float32} (exactly what a consumer of the exported model computes) or
     * {@code bfloat16}.
     */
    @Parameter(property = "finetune.precision", defaultValue = "auto")
    String precision;

    /**
     * Op types that touch the file system or the network, or run code, that you accept in this model knowingly, as for
     * {@code train}. Before TensorFlow loads the model, what loading and predicting run is scanned; by default a model
     * holding such ops is refused with the list of them. Its own variable restore is always allowed.
     * {@code <allowUnsafeOps><allowUnsafeOp>ReadFile</allowUnsafeOp></allowUnsafeOps>} or
     * {@code -Dfinetune.allowUnsafeOps=ReadFile,WriteFile}.
     */
    @Parameter(property = "finetune.allowUnsafeOps")
    List<String> allowUnsafeOps;

    /** Loads the model with the session settings of this goal, once checked and scanned. */
    FineTunedModel loadModel() throws MojoExecutionException {
        for (String problem : new String[] {SessionSettings.precisionProblem(precision),
                FineTuneConfig.inferenceBatchTokensProblem(inferenceBatchTokens)}) {
            if (problem != null) {
                throw new MojoExecutionException(problem);
            }
        }
        FineTunedModel model = FineTunedModel.load(modelDirectory.toPath(), new SessionSettings("auto", 0, 0, precision, false),
                allowUnsafeOps == null ? List.of() : allowUnsafeOps);
        List<String> notFused = model.fusionProblems();
        getLog().info("Inference in " + model.precision() + (model.fusedGelus() + model.fusedLayerNorms() == 0 ? ""
                : String.format("; fused ops: %d dense layers + GELU, %d layer norms", model.fusedGelus(), model.fusedLayerNorms()))
                + (model.packedDenseLayers() == 0 ? "" : String.format("; %d dense layers with packed weights", model.packedDenseLayers()))
                + (model.bfloat16Stretches() == 0 ? "" : String.format("; %d stretches between fused layers run in bfloat16",
                        model.bfloat16Stretches()))
                + (notFused.isEmpty() ? "" : "; not fused: " + String.join("; ", notFused)) + ".");
        return model;
    }

    /** The batches {@code model} predicts many texts in ({@code inferenceBatchTokens}, checked by {@link #loadModel}). */
    BatchBudget inferenceBatch(FineTunedModel model) {
        BatchBudget budget = FineTuneConfig.inferenceBatch(inferenceBatchTokens, model.maxSequenceLength());
        getLog().info(String.format("Batches of texts sorted by length, each at most %,d padded tokens and %d rows (inferenceBatchTokens %s).",
                budget.tokens(), budget.rows(), inferenceBatchTokens));
        return budget;
    }
}

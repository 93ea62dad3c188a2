package dev.finetune.maven;

import dev.finetune.engine.data.TextFormat;
import dev.finetune.engine.evaluation.Evaluation;
import dev.finetune.engine.evaluation.Evaluator;
import dev.finetune.engine.evaluation.QualityGates;
import dev.finetune.engine.report.EvaluationReports;
import dev.finetune.runtime.FineTunedModel;
import java.io.File;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;

/**
 * Evaluates a fine-tuned model on a labelled test file, writes reports to {@code target/finetune/}
 * ({@code evaluation.json}, {@code evaluation.html}, {@code TEST-finetune-quality-gates.xml}, {@code evaluation.md})
 * and checks quality gates, which fail the build when violated.
 *
 * <pre>{@code
 * <execution>
 *   <goals><goal>train</goal><goal>evaluate</goal></goals>
 *   <configuration>
 *     <testFile>src/test/data/test.csv</testFile>
 *     <minimumAccuracy>0.85</minimumAccuracy>
 *     <minimumClassF1><positive>0.8</positive></minimumClassF1>
 *   </configuration>
 * </execution>
 * }</pre>
 */
@Mojo(name = "evaluate", defaultPhase = LifecyclePhase.VERIFY, threadSafe = true)
public class EvaluateMojo extends AbstractModelMojo {
    static final String GATES_FAILED = "Quality gates failed: ";

    /** Labelled test data, in the same formats and with the same column options as training. */
    @Parameter(property = "finetune.testFile")
    File testFile;

    /** Where the reports go. */
    @Parameter(property = "finetune.reportDirectory", defaultValue = "${project.build.directory}/finetune")
    File reportDirectory;

    /** Fail when accuracy is below this. */
    @Parameter(property = "finetune.minimumAccuracy")
    Double minimumAccuracy;

    /** Fail when macro-averaged F1 is below this. */
    @Parameter(property = "finetune.minimumMacroF1")
    Double minimumMacroF1;

    /** Per-class minimum F1, e.g. {@code <minimumClassF1><positive>0.8</positive></minimumClassF1>}. */
    @Parameter
    Map<String, String> minimumClassF1;

    /** Fail when the log loss (mean cross-entropy) is above this. */
    @Parameter(property = "finetune.maximumLoss")
    Double maximumLoss;

    /** When false, violated gates are logged as warnings and the build goes on. */
    /** The lowest micro F1 (multi-label: over labels; token classification: over entities) that passes. */
    @Parameter(property = "finetune.minimumMicroF1")
    Double minimumMicroF1;

    /** Regression: the highest root mean squared error that passes. */
    @Parameter(property = "finetune.maximumRmse")
    Double maximumRmse;

    /** Regression: the highest mean absolute error that passes. */
    @Parameter(property = "finetune.maximumMae")
    Double maximumMae;

    /** Regression: the lowest coefficient of determination R² that passes. */
    @Parameter(property = "finetune.minimumR2")
    Double minimumR2;

    /** Regression: the lowest Pearson correlation of predicted and true values that passes. */
    @Parameter(property = "finetune.minimumPearson")
    Double minimumPearson;

    /** Regression: the lowest Spearman (rank) correlation of predicted and true values that passes. */
    @Parameter(property = "finetune.minimumSpearman")
    Double minimumSpearman;

    @Parameter(property = "finetune.haltOnFailure", defaultValue = "true")
    boolean haltOnFailure;

    /** The project's {@code skipTests}: evaluation is a test of the model, so it is skipped with the others. */
    @Parameter(property = "skipTests", defaultValue = "false")
    boolean skipTests;

    @Override
    String goal() {
        return "evaluation";
    }

    @Override
    void run() throws MojoExecutionException, MojoFailureException {
        if (skipTests) {
            getLog().info("Skipping evaluation (skipTests).");
            return;
        }
        required(testFile, "testFile", "the labelled test data (CSV, TSV or JSONL)");
        QualityGates gates = new QualityGates(minimumAccuracy, minimumMacroF1, classLimits(), maximumLoss, minimumMicroF1,
                maximumRmse, maximumMae, minimumR2, minimumPearson, minimumSpearman);
        try (FineTunedModel model = loadModel()) {
            Evaluation e = Evaluator.evaluate(model, dataReader(true, model), tokenReader(true), testFile.toPath(),
                    TextFormat.of(dataFormat, testFile.toPath()), inferenceBatch(model), progress());
            List<QualityGates.Result> results = gates.check(e);
            EvaluationReports.write(reportDirectory.toPath(), e, results, basedir.toPath());
            getLog().info("Reports: " + new File(reportDirectory, EvaluationReports.HTML));
            List<String> failed = results.stream().filter(r -> !r.passed()).map(QualityGates.Result::message).toList();
            results.stream().filter(QualityGates.Result::passed).forEach(r -> getLog().info("Gate passed: " + r.message() + "."));
            if (!failed.isEmpty()) {
                String message = GATES_FAILED + String.join("; ", failed) + ".";
                if (haltOnFailure) {
                    throw new MojoFailureException(message);
                }
                getLog().warn(message + " (haltOnFailure is false)");
            }
        }
    }

    private Map<String, Double> classLimits() throws MojoExecutionException {
        Map<String, Double> out = new LinkedHashMap<>();
        if (minimumClassF1 != null) {
            for (Map.Entry<String, String> e : minimumClassF1.entrySet()) {
                try {
                    out.put(e.getKey(), Double.parseDouble(e.getValue().trim()));
                } catch (NumberFormatException ex) {
                    throw new MojoExecutionException("minimumClassF1 for '" + e.getKey() + "' is '" + e.getValue() + "', not a number.");
                }
            }
        }
        return out;
    }
}

package dev.finetune.maven;

import dev.finetune.engine.data.TextFormat;
import dev.finetune.engine.inference.Predictor;
import dev.finetune.runtime.FineTunedModel;
import java.io.File;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;

/**
 * Runs a fine-tuned model over a CSV/TSV/JSONL file and writes a CSV of predictions: the input line, the
 * predicted label, its probability and the probability of every class. Streams the input, so files larger than
 * memory work. {@code mvn finetune:predict -Dfinetune.inputFile=reviews.csv}
 */
@Mojo(name = "predict", threadSafe = true)
public class PredictMojo extends AbstractModelMojo {
    /** The texts to classify; a label column, if present, is ignored. */
    @Parameter(property = "finetune.inputFile")
    File inputFile;

    /** The predictions, as CSV. */
    @Parameter(property = "finetune.predictionsFile", defaultValue = "${project.build.directory}/finetune/predictions.csv")
    File predictionsFile;

    @Override
    String goal() {
        return "prediction";
    }

    @Override
    void run() throws MojoExecutionException {
        required(inputFile, "inputFile", "the texts to classify (CSV, TSV or JSONL)");
        try (FineTunedModel model = loadModel()) {
            long rows = Predictor.predict(model, dataReader(false, model), tokenReader(false), inputFile.toPath(), TextFormat.of(dataFormat, inputFile.toPath()), predictionsFile.toPath(), inferenceBatch(model), progress());
            getLog().info(String.format("Predicted %,d rows of %s into %s.", rows, inputFile, predictionsFile));
        }
    }
}

package dev.finetune.engine.inference;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.FineTuneException;
import dev.finetune.engine.Json;
import dev.finetune.engine.export.ModelExporter;
import dev.finetune.engine.tokenizer.TextTokenizer;
import dev.finetune.engine.tokenizer.TokenizerFile;
import dev.finetune.engine.training.Batch;
import dev.finetune.engine.training.ClassifierSession;
import dev.finetune.engine.training.SessionSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.types.TInt32;

/**
 * A model written by {@code train} ({@code target/finetune/}): the SavedModel, its labels and the tokenizer it
 * was trained with, ready to predict. Loaded with TensorFlow's own SavedModel loader, as any consumer would.
 */
public final class FineTunedModel implements AutoCloseable {
    private final Path directory;
    private final List<String> labels;
    private final TextTokenizer tokenizer;
    private final int maxSequenceLength;
    private final SavedModelBundle bundle;
    private final SignatureDef signature;
    private final String precision;

    private FineTunedModel(Path directory, List<String> labels, TextTokenizer tokenizer, int maxSequenceLength,
                           SavedModelBundle bundle, String precision) {
        this.precision = precision;
        this.directory = directory;
        this.labels = labels;
        this.tokenizer = tokenizer;
        this.maxSequenceLength = maxSequenceLength;
        this.bundle = bundle;
        this.signature = bundle.metaGraphDef().getSignatureDefOrThrow(ModelExporter.SIGNATURE);
    }

    /** Loads in float32: exactly what any consumer of the exported SavedModel computes. */
    public static FineTunedModel load(Path directory) {
        return load(directory, SessionSettings.defaults("auto"));
    }

    /** Loads with the given session settings (precision, threads, device). */
    public static FineTunedModel load(Path directory, SessionSettings settings) {
        Path labelsFile = directory.resolve("labels.json");
        Path model = directory.resolve("saved_model");
        if (!Files.isRegularFile(labelsFile) || !Files.isRegularFile(model.resolve("saved_model.pb"))) {
            throw new FineTuneException("No fine-tuned model in " + directory + ": it needs labels.json and saved_model/ "
                    + "as written by finetune:train. Run the train goal first, or point modelDirectory at its output.");
        }
        JsonNode meta;
        try {
            meta = Json.MAPPER.readTree(labelsFile.toFile());
        } catch (IOException e) {
            throw new FineTuneException("Cannot read " + labelsFile + ": " + e.getMessage(), e);
        }
        List<String> labels = new ArrayList<>();
        meta.get("labels").forEach(l -> labels.add(l.asText()));
        // Models written before other tokenizers existed name none: theirs is vocab.txt.
        TextTokenizer tokenizer = TokenizerFile.of(directory.resolve(meta.path("tokenizer").asText("vocab.txt")))
                .open(meta.path("doLowerCase").asBoolean(true));
        SessionSettings session = settings.resolved();
        SavedModelBundle bundle = SavedModelBundle.loader(model.toString()).withTags("serve").withConfigProto(session.config()).load();
        return new FineTunedModel(directory, List.copyOf(labels), tokenizer, meta.path("maxSequenceLength").asInt(128), bundle,
                session.precision());
    }

    /** float32 or bfloat16: the precision its session computes in. */
    public String precision() {
        return precision;
    }

    /** Class probabilities for each row of {@code batch}. */
    public float[][] predict(Batch batch) {
        Shape shape = Shape.of(batch.rows(), batch.length());
        List<Tensor> feeds = new ArrayList<>();
        try {
            Session.Runner runner = bundle.session().runner();
            feed(runner, feeds, "input_ids", TInt32.tensorOf(shape, DataBuffers.of(batch.inputIds(), true, false)));
            feed(runner, feeds, "input_mask", TInt32.tensorOf(shape, DataBuffers.of(batch.inputMask(), true, false)));
            feed(runner, feeds, "segment_ids", TInt32.tensorOf(shape, DataBuffers.of(batch.segmentIds(), true, false)));
            try (Result r = runner.fetch(signature.getOutputsOrThrow("probabilities").getName()).run()) {
                float[] flat = ClassifierSession.floats(r.get(0));
                float[][] out = new float[batch.rows()][labels.size()];
                for (int i = 0; i < batch.rows(); i++) {
                    System.arraycopy(flat, i * labels.size(), out[i], 0, labels.size());
                }
                return out;
            }
        } finally {
            feeds.forEach(Tensor::close);
        }
    }

    private void feed(Session.Runner runner, List<Tensor> feeds, String key, Tensor t) {
        feeds.add(t);
        if (signature.containsInputs(key)) {
            runner.feed(signature.getInputsOrThrow(key).getName(), t);
        }
    }

    public Path directory() {
        return directory;
    }

    public List<String> labels() {
        return labels;
    }

    public TextTokenizer tokenizer() {
        return tokenizer;
    }

    public int maxSequenceLength() {
        return maxSequenceLength;
    }

    @Override
    public void close() {
        bundle.close();
        tokenizer.close();
    }
}

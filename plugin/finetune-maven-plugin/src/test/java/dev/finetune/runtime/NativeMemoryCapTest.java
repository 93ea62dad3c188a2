package dev.finetune.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.FineTuneEngine;
import dev.finetune.engine.TestFiles;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.model.SessionSettings;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An application with a small heap meets JavaCPP's cap on resident memory (about four times the heap), though
 * TensorFlow's memory is native: the runtime then says what to set, and with the cap lifted the same JVM serves.
 */
class NativeMemoryCapTest {
    @Test
    void aSmallHeapGetsAnErrorThatSaysWhatToSet(@TempDir Path tmp) throws Exception {
        FineTuneConfig c = TestFiles.tinyConfig("tiny-bert-tf1", tmp);
        c.epochs = 1;
        FineTuneEngine.train(c, ProgressListener.SILENT);

        Run capped = java(tmp, c.outputDirectory, "-Xmx24m");
        assertEquals(2, capped.exit, capped.output);
        assertTrue(capped.output.contains("FineTuneException") && capped.output.contains("JavaCPP's cap")
                && capped.output.contains("-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"), capped.output);

        Run lifted = java(tmp, c.outputDirectory, "-Xmx24m", "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0");
        assertEquals(0, lifted.exit, lifted.output);
        assertTrue(lifted.output.contains("predicted 2 rows"), lifted.output);
    }

    private record Run(int exit, String output) {
    }

    private static Run java(Path tmp, Path model, String... options) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(TestFiles.javaCommand(SmallHeapApplication.class, List.of(options), model.toString())).redirectErrorStream(true).redirectOutput(tmp.resolve("out.txt").toFile()).start();
        int exit = p.waitFor();
        return new Run(exit, java.nio.file.Files.readString(tmp.resolve("out.txt"), StandardCharsets.UTF_8));
    }

    /** What a user's application does: load the model and predict two texts. Exit 2 on a FineTuneException. */
    public static final class SmallHeapApplication {
        public static void main(String[] args) {
            try (FineTunedModel model = FineTunedModel.load(Path.of(args[0]), new SessionSettings("cpu", 1, 1, "float32", false))) {
                List<dev.finetune.runtime.encoding.EncodedExample> rows = new ArrayList<>();
                for (String t : List.of("a wonderful film", "dull")) {
                    rows.add(dev.finetune.runtime.encoding.EncodedExample.of(model.tokenizer(),
                            new dev.finetune.runtime.encoding.LabeledText(t, null, null, 0), -1, model.maxSequenceLength()));
                }
                float[][] p = model.predict(dev.finetune.runtime.encoding.Batches.pad(rows, model.tokenizer().padId()));
                System.out.println("predicted " + p.length + " rows");
            } catch (FineTuneException e) {
                System.out.println(e.getClass().getSimpleName() + ": " + e.getMessage());
                System.exit(2);
            }
        }
    }
}

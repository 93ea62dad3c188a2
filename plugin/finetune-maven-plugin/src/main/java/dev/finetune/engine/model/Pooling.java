package dev.finetune.engine.model;

import static dev.finetune.runtime.model.GraphDefs.output;

import dev.finetune.runtime.model.ModelException;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TString;

/**
 * What the classification head reads of the encoder: {@code pooled} (the model's pooled output), {@code cls} (the
 * first token of the sequence output), {@code mean} (the masked mean of the sequence) or {@code last} (the last real
 * token, what a causal decoder has summed everything into). {@code auto} is resolved here, once: the pooled output
 * when the model has one, else {@code last} for a causal model (GPT-style), else {@code cls}.
 */
public final class Pooling {
    public static final List<String> CHOICES = List.of("auto", "pooled", "cls", "mean", "last");

    private Pooling() {
    }

    /** The pooling {@code pooling} stands for on {@code encoder}. */
    public static String resolve(String pooling, EncoderGraph encoder) {
        if (!pooling.equals("auto")) {
            return pooling;
        }
        if (encoder.signature().pooledOutput() != null) {
            return "pooled";
        }
        try {
            return isCausal(encoder) ? "last" : "cls";
        } catch (RuntimeException e) {
            throw new ModelException("Cannot run the model to tell whether it is causal (" + e.getMessage()
                    + "); set <pooling> to last, cls or mean.", e);
        }
    }

    /**
     * Whether the encoder is causal, found by running it rather than by guessing from op names: two texts that share
     * their first token and differ after it; a causal model gives the first position the same output in both.
     */
    static boolean isCausal(EncoderGraph encoder) {
        EncoderSignature sig = encoder.signature();
        try (Graph graph = new Graph()) {
            graph.importGraphDef(encoder.graph());
            try (Session session = new Session(graph);
                 TString prefix = TString.scalarOf(encoder.variablesPrefix().toString())) {
                session.runner().feed(output(graph, encoder.restoreFilenameTensor()), prefix).addTarget(encoder.restoreOp()).run().close();
                List<Tensor> feeds = new ArrayList<>();
                try {
                    Shape shape = Shape.of(2, 3);
                    Session.Runner runner = session.runner();
                    feeds.add(TInt32.tensorOf(shape, DataBuffers.of(new int[] {1, 2, 3, 1, 4, 5}, true, false)));
                    runner.feed(output(graph, sig.inputIds()), feeds.get(feeds.size() - 1));
                    if (sig.inputMask() != null) {
                        feeds.add(TInt32.tensorOf(shape, DataBuffers.of(new int[] {1, 1, 1, 1, 1, 1}, true, false)));
                        runner.feed(output(graph, sig.inputMask()), feeds.get(feeds.size() - 1));
                    }
                    if (sig.segmentIds() != null) {
                        feeds.add(TInt32.tensorOf(shape, DataBuffers.of(new int[6], true, false)));
                        runner.feed(output(graph, sig.segmentIds()), feeds.get(feeds.size() - 1));
                    }
                    try (Result r = runner.fetch(output(graph, sig.sequenceOutput())).run()) {
                        TFloat32 out = (TFloat32) r.get(0);
                        long hidden = out.shape().get(2);
                        double diff = 0;
                        double scale = 0;
                        for (long h = 0; h < hidden; h++) {
                            diff = Math.max(diff, Math.abs(out.getFloat(0, 0, h) - out.getFloat(1, 0, h)));
                            scale = Math.max(scale, Math.abs(out.getFloat(0, 0, h)));
                        }
                        return diff <= 1e-6 * (1 + scale);
                    }
                } finally {
                    feeds.forEach(Tensor::close);
                }
            }
        }
    }
}

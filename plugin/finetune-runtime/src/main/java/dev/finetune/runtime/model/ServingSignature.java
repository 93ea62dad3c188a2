package dev.finetune.runtime.model;

import dev.finetune.runtime.Task;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.types.TFloat32;

/**
 * The contract between a fine-tuned SavedModel and whoever runs it: the signature's name, the output each task
 * fetches, and how its float output comes back as rows. {@code train} writes models to it; the runtime reads them.
 */
public final class ServingSignature {
    /** The signature every fine-tuned model is exported under (TensorFlow Serving's default key). */
    public static final String NAME = "serving_default";

    private ServingSignature() {
    }

    /** The signature output holding the task's answer. */
    public static String outputKey(Task task) {
        return task == Task.REGRESSION ? "predictions" : "probabilities";
    }

    /** The tensors of {@code signature}, inputs and outputs: what a caller of it feeds and fetches. */
    public static List<String> tensors(SignatureDef signature) {
        List<String> out = new ArrayList<>();
        signature.getInputsMap().values().forEach(t -> out.add(t.getName()));
        signature.getOutputsMap().values().forEach(t -> out.add(t.getName()));
        return out;
    }

    /** A float32 tensor's values, flattened. */
    public static float[] floats(Tensor tensor) {
        TFloat32 t = (TFloat32) tensor;
        float[] flat = new float[(int) t.shape().size()];
        t.copyTo(DataBuffers.of(flat, false, false));
        return flat;
    }

    /** {@code flat} cut into {@code rows} rows of equal width. */
    public static float[][] rows(float[] flat, int rows) {
        int width = rows == 0 ? 0 : flat.length / rows;
        float[][] out = new float[rows][width];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(flat, i * width, out[i], 0, width);
        }
        return out;
    }
}

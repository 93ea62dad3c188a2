package dev.finetune.engine.model;

/**
 * Where an encoder's inputs and outputs are, as tensor names of the (inlined) graph.
 * {@code inputMask}, {@code segmentIds}, {@code pooledOutput} and {@code sequenceOutput} may be null when the model
 * lacks them.
 */
public record EncoderSignature(String inputIds, String inputMask, String segmentIds,
                               String pooledOutput, String sequenceOutput) {

    /** The same signature with every tensor name passed through {@code rename}. */
    public EncoderSignature map(java.util.function.UnaryOperator<String> rename) {
        return new EncoderSignature(apply(rename, inputIds), apply(rename, inputMask), apply(rename, segmentIds),
                apply(rename, pooledOutput), apply(rename, sequenceOutput));
    }

    private static String apply(java.util.function.UnaryOperator<String> rename, String name) {
        return name == null ? null : rename.apply(name);
    }
}

package dev.finetune.engine.model;

/**
 * What the user wrote in the pom for each encoder tensor: a signature key ("input_ids") or a tensor name
 * ("input_ids:0"). Null means: find it.
 */
public record SignatureNames(String inputIds, String inputMask, String segmentIds,
                             String pooledOutput, String sequenceOutput) {
    public static SignatureNames auto() {
        return new SignatureNames(null, null, null, null, null);
    }
}

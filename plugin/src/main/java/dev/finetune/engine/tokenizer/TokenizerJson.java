package dev.finetune.engine.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.FineTuneException;
import dev.finetune.engine.Json;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A Hugging Face {@code tokenizer.json} (WordPiece, BPE including byte-level, Unigram; any normalizer, pre-tokenizer
 * and post-processor it describes), run by Hugging Face's own Rust library through DJL's binding. Special tokens and
 * the pair template come from the file's post-processor, so a RoBERTa tokenizer gives {@code <s> A </s></s> B </s>}
 * and a GPT-2 one adds nothing.
 *
 * <p>Why the Rust library and not a Java port: it is the reference that every {@code tokenizer.json} is written for,
 * and exact equality over normalizers, byte-level pre-tokenization and merges is what a fine-tuned model needs.
 */
public final class TokenizerJson implements TextTokenizer {
    /** Tokens that pad a batch, by preference, when the file has no padding section. */
    private static final List<String> PAD_TOKENS = List.of("[PAD]", "<pad>", "<|pad|>", "<|endoftext|>", "</s>", "<eos>");

    static {
        // DJL would otherwise ask the EC2 metadata service where it runs, or fetch natives for unknown platforms.
        for (String[] p : new String[][] {{"OPT_OUT_TRACKING", "true"}, {"ai.djl.offline", "true"}, {"RUST_FLAVOR", "cpu"}}) {
            if (System.getProperty(p[0]) == null && System.getenv(p[0]) == null) {
                System.setProperty(p[0], p[1]);
            }
        }
    }

    private final String json;
    private final String description;
    private final int padId;
    private final int vocabularySize;
    /** One native tokenizer per maximum length: the length is part of its truncation settings. */
    private final Map<Integer, ai.djl.huggingface.tokenizers.HuggingFaceTokenizer> byLength = new ConcurrentHashMap<>();

    private TokenizerJson(String json, String description, JsonNode tree) {
        this.json = json;
        this.description = description;
        Map<String, Integer> vocab = vocabulary(tree);
        vocabularySize = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        JsonNode padding = tree.path("padding");
        if (padding.hasNonNull("pad_id") && padding.hasNonNull("pad_token")) {
            padId = padding.get("pad_id").asInt();
        } else {
            padId = PAD_TOKENS.stream().filter(vocab::containsKey).map(vocab::get).findFirst().orElse(0);
        }
    }

    /** Reads a {@code tokenizer.json}; errors name the file. */
    public static TokenizerJson read(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new FineTuneException("Cannot read tokenizer " + file + ": " + e.getMessage(), e);
        }
        return of(text, "tokenizer.json", file);
    }

    /** A tokenizer from the text of a {@code tokenizer.json}; {@code kind} and {@code source} describe it in messages. */
    static TokenizerJson of(String json, String kind, Object source) {
        JsonNode tree;
        try {
            tree = Json.MAPPER.readTree(json);
        } catch (IOException e) {
            throw new FineTuneException("Tokenizer " + source + " is not valid JSON: " + e.getMessage(), e);
        }
        if (!tree.path("model").has("type") && !tree.path("model").has("vocab")) {
            throw new FineTuneException("Tokenizer " + source + " is not a Hugging Face tokenizer.json: it has no model section.");
        }
        String type = tree.path("model").path("type").asText("BPE");
        boolean byteLevel = json.contains("\"ByteLevel\"");
        TokenizerJson t = new TokenizerJson(json, (byteLevel ? "byte-level " : "") + type + " (" + kind + ", ", tree);
        t.encode("check", "pair", 8); // loads the native library now, so a broken file fails here, naming itself
        return t;
    }

    /** Every token of the model's vocabulary and the added (special) tokens, with their ids. */
    private static Map<String, Integer> vocabulary(JsonNode tree) {
        Map<String, Integer> ids = new java.util.HashMap<>();
        JsonNode vocab = tree.path("model").path("vocab");
        if (vocab.isObject()) {
            vocab.fields().forEachRemaining(e -> ids.put(e.getKey(), e.getValue().asInt()));
        } else if (vocab.isArray()) {
            // Unigram: [[piece, score], ...], the position is the id.
            for (int i = 0; i < vocab.size(); i++) {
                ids.putIfAbsent(vocab.get(i).get(0).asText(), i);
            }
        }
        tree.path("added_tokens").forEach(t -> ids.put(t.path("content").asText(), t.path("id").asInt()));
        return ids;
    }

    @Override
    public Encoding encode(String text, String pair, int maxLength) {
        ai.djl.huggingface.tokenizers.Encoding e;
        var tokenizer = byLength.computeIfAbsent(maxLength, this::load);
        e = pair == null ? tokenizer.encode(text) : tokenizer.encode(text, pair);
        return new Encoding(ints(e.getIds()), ints(e.getTypeIds()), e.exceedMaxLength());
    }

    private ai.djl.huggingface.tokenizers.HuggingFaceTokenizer load(int maxLength) {
        Map<String, String> options = Map.of("addSpecialTokens", "true", "truncation", "longest_first",
                "maxLength", Integer.toString(maxLength), "padding", "false", "modelMaxLength", Integer.toString(maxLength));
        try {
            return ai.djl.huggingface.tokenizers.HuggingFaceTokenizer.newInstance(
                    new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)), options);
        } catch (IOException | RuntimeException e) {
            throw new FineTuneException("Hugging Face's tokenizer library cannot load the " + describe() + ": " + e.getMessage(), e);
        } catch (UnsatisfiedLinkError e) {
            throw new FineTuneException("Hugging Face's tokenizer library has no native build for this platform ("
                    + System.getProperty("os.name") + ", " + System.getProperty("os.arch") + "); use a vocab.txt tokenizer.", e);
        }
    }

    private static int[] ints(long[] values) {
        int[] out = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (int) values[i];
        }
        return out;
    }

    @Override
    public int padId() {
        return padId;
    }

    @Override
    public int vocabularySize() {
        return vocabularySize;
    }

    @Override
    public String describe() {
        return description + vocabularySize + " tokens)";
    }

    @Override
    public void close() {
        byLength.values().forEach(ai.djl.huggingface.tokenizers.HuggingFaceTokenizer::close);
        byLength.clear();
    }
}

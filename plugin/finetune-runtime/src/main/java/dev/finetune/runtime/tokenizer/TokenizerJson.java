package dev.finetune.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.Json;
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
    /** Tokens that stand for an unknown word, by preference, when the model section names none. */
    private static final List<String> UNK_TOKENS = List.of("[UNK]", "<unk>", "<|unk|>");
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
    /** The id a word that gives no token gets ({@link #encodeWords}): the unknown token's, else the padding id. */
    private final int unknownId;
    /** Whether the pre-tokenizer is byte-level, so that words after the first need the space that precedes them. */
    private final boolean spaceBeforeWords;
    /** Without truncation or padding, for {@link #encodeWords}; made on first use. */
    private ai.djl.huggingface.tokenizers.HuggingFaceTokenizer whole;
    /** How many special tokens the single-text template puts before the text; known on first use of {@link #whole}. */
    private int leadingSpecials;
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
        JsonNode model = tree.path("model");
        if (model.path("unk_id").isInt()) {
            unknownId = model.get("unk_id").asInt();
        } else if (model.path("unk_token").isTextual() && vocab.containsKey(model.get("unk_token").asText())) {
            unknownId = vocab.get(model.get("unk_token").asText());
        } else {
            unknownId = UNK_TOKENS.stream().filter(vocab::containsKey).map(vocab::get).findFirst().orElse(padId);
        }
        spaceBeforeWords = byteLevel(tree.path("pre_tokenizer"));
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

    /** Whether a pre-tokenizer is, or holds, Hugging Face's {@code ByteLevel}. */
    private static boolean byteLevel(JsonNode preTokenizer) {
        if ("ByteLevel".equals(preTokenizer.path("type").asText())) {
            return true;
        }
        for (JsonNode p : preTokenizer.path("pretokenizers")) {
            if (byteLevel(p)) {
                return true;
            }
        }
        return false;
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

    /**
     * Each word through the file's normalizer, pre-tokenizer and model on its own ({@code encode(words,
     * is_pretokenized=True)} in Python, the same Rust code), then the single-text template; a word that gives no token
     * gets {@link #unknownId}.
     *
     * <p>Byte-level BPE keeps the white space before a word inside its first token ({@code Ġworld} is " world"), and a
     * pre-tokenized word is encoded alone, so with {@code add_prefix_space=false} (RoBERTa's and GPT-2's files) Hugging
     * Face's library encodes the words of "Hello world" as if they were written "Helloworld": {@code world} instead of
     * {@code Ġworld}, pieces the model rarely saw inside a sentence. Here every word after the first gets the space that
     * precedes it in running text, which gives the ids of the words joined by single spaces, each word still its own
     * (transformers instead asks for {@code add_prefix_space=True}, which also puts a space before the first word).
     */
    @Override
    public WordEncoding encodeWords(List<String> words) {
        String[] given = new String[words.size()];
        for (int i = 0; i < given.length; i++) {
            String w = words.get(i);
            given[i] = spaceBeforeWords && i > 0 ? " " + w : w;
        }
        WordEncoding raw = encodePreTokenized(given);
        boolean[] seen = new boolean[given.length];
        int seenCount = 0;
        for (int w : raw.wordIds()) {
            if (w >= 0 && !seen[w]) {
                seen[w] = true;
                seenCount++;
            }
        }
        return seenCount == given.length ? raw : fill(raw, seen);
    }

    /** {@code e} with {@link #unknownId} for each word not {@code seen}, where its ids would be. */
    private WordEncoding fill(WordEncoding e, boolean[] seen) {
        int n = seen.length;
        int lead = leadingSpecials;
        int missing = 0;
        for (boolean s : seen) {
            missing += s ? 0 : 1;
        }
        int[] ids = new int[e.ids().length + missing];
        int[] segments = new int[ids.length];
        int[] wordIds = new int[ids.length];
        int k = 0;
        for (int i = 0; i < lead; i++, k++) {
            ids[k] = e.ids()[i];
            segments[k] = e.segmentIds()[i];
            wordIds[k] = -1;
        }
        int from = lead;
        for (int w = 0; w < n; w++) {
            if (!seen[w]) {
                ids[k] = unknownId;
                segments[k] = from < e.ids().length ? e.segmentIds()[from] : 0; // the text's segment, as the next id's
                wordIds[k++] = w;
                continue;
            }
            while (from < e.ids().length && e.wordIds()[from] == w) {
                ids[k] = e.ids()[from];
                segments[k] = e.segmentIds()[from];
                wordIds[k++] = w;
                from++;
            }
        }
        for (; from < e.ids().length; from++, k++) {
            ids[k] = e.ids()[from];
            segments[k] = e.segmentIds()[from];
            wordIds[k] = e.wordIds()[from];
        }
        return new WordEncoding(ids, segments, wordIds);
    }

    /** The words exactly as given, through Hugging Face's pre-tokenized encoding, with special tokens, untruncated. */
    WordEncoding encodePreTokenized(String[] words) {
        var e = whole().encode(words, true, false);
        return new WordEncoding(ints(e.getIds()), ints(e.getTypeIds()), ints(e.getWordIds()));
    }

    private synchronized ai.djl.huggingface.tokenizers.HuggingFaceTokenizer whole() {
        if (whole == null) {
            whole = load(Map.of("addSpecialTokens", "true", "truncation", "false", "padding", "false"));
            long[] probe = whole.encode(new String[] {"a"}, true, false).getWordIds();
            int lead = 0;
            while (lead < probe.length && probe[lead] < 0) {
                lead++;
            }
            leadingSpecials = lead;
        }
        return whole;
    }

    private ai.djl.huggingface.tokenizers.HuggingFaceTokenizer load(int maxLength) {
        return load(Map.of("addSpecialTokens", "true", "truncation", "longest_first",
                "maxLength", Integer.toString(maxLength), "padding", "false", "modelMaxLength", Integer.toString(maxLength)));
    }

    private ai.djl.huggingface.tokenizers.HuggingFaceTokenizer load(Map<String, String> options) {
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
        synchronized (this) {
            if (whole != null) {
                whole.close();
                whole = null;
            }
        }
    }
}

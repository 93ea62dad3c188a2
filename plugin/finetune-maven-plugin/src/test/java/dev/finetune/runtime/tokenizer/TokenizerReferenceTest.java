package dev.finetune.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.TestFiles;
import dev.finetune.runtime.Json;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every kind of tokenizer gives exactly the ids of its Python reference ({@code tokenizers}, {@code sentencepiece}) on
 * more than 10,000 real texts from Debian (English, accented and non-Latin scripts, emoji), single texts and pairs
 * with the special tokens of each model family. The references and texts are made by
 * {@code src/data/make_tokenizer_reference.py} and {@code src/data/make_tokenizer_texts.*}.
 */
class TokenizerReferenceTest {
    private static final int UNLIMITED = 1_000_000;

    /** The SentencePiece model's pieces, when the tokenizer under test is one; null otherwise. */
    private List<SentencePieceModel.Piece> pieces;
    /** SentencePiece segmentations that differ from the reference only in how a tie was broken. */
    private int ties;

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "wordpiece-vocab, models/families/bert-keras/assets/vocab.txt, true, false",
        "wordpiece-json, models/families/distilbert-keras/assets/tokenizer.json, false, false",
        "bpe-roberta, models/families/roberta-keras/assets/tokenizer.json, false, false",
        "bpe-gpt, models/families/gpt-keras/assets/tokenizer.json, false, false",
        "sentencepiece, models/families/albert-keras/assets/spiece.model, true, false",
        "sentencepiece-fairseq, data/tokenizer-reference/sentencepiece.bpe.model, false, true"})
    void idsEqualThePythonReference(String kind, String file, boolean lowerCase, boolean fairseq) throws IOException {
        List<JsonNode> texts = readJsonLines(TestFiles.data("tokenizer-texts.jsonl.gz"));
        List<JsonNode> expected = readJsonLines(TestFiles.data("tokenizer-reference").resolve(kind + ".jsonl.gz"));
        assertEquals(texts.size(), expected.size(), kind + ": reference and texts differ in length");
        assertTrue(texts.size() >= 10_000, "only " + texts.size() + " texts");
        int singles = 0;
        int pairs = 0;
        int pairsChecked = 0;
        int nonLatin = 0;
        int emoji = 0;
        List<String> mismatches = new ArrayList<>();
        TokenizerFile tokenizerFile = TokenizerFile.of(TestFiles.shared().resolve(file));
        SentencePieceModel model = tokenizerFile.kind() == TokenizerFile.Kind.SENTENCEPIECE ? SentencePieceModel.read(tokenizerFile.file()) : null;
        pieces = model == null ? null : fairseq ? model.fairseqNumbering() : model.pieces();
        try (TextTokenizer tokenizer = tokenizerFile.open(lowerCase, fairseq)) {
            for (int i = 0; i < texts.size(); i++) {
                String text = texts.get(i).get("text").asText();
                JsonNode ref = expected.get(i);
                TextTokenizer.Encoding e = tokenizer.encode(text, null, UNLIMITED);
                if (same(e, ref.get("ids"), ref.get("type_ids")) || tie(e, ref.get("ids"))) {
                    singles++;
                    nonLatin += text.codePoints().anyMatch(cp -> Character.UnicodeScript.of(cp) != Character.UnicodeScript.LATIN
                            && Character.UnicodeScript.of(cp) != Character.UnicodeScript.COMMON
                            && Character.UnicodeScript.of(cp) != Character.UnicodeScript.INHERITED) ? 1 : 0;
                    emoji += text.codePoints().anyMatch(cp -> Character.getType(cp) == Character.OTHER_SYMBOL && cp >= 0x1F000) ? 1 : 0;
                } else if (mismatches.size() < Integer.getInteger("tokenizer.mismatches", 5)) {
                    mismatches.add("text " + i + " " + Json.MAPPER.writeValueAsString(text) + ": " + Arrays.toString(e.ids())
                            + " instead of " + ref.get("ids"));
                }
                if (ref.has("pair_ids")) {
                    pairsChecked++;
                    String pair = texts.get((i + 1) % texts.size()).get("text").asText();
                    TextTokenizer.Encoding p = tokenizer.encode(text, pair, UNLIMITED);
                    if (same(p, ref.get("pair_ids"), ref.get("pair_type_ids")) || tie(p, ref.get("pair_ids"))) {
                        pairs++;
                    } else if (mismatches.size() < Integer.getInteger("tokenizer.mismatches", 5)) {
                        mismatches.add("pair " + i + ": " + Arrays.toString(p.ids()) + " instead of " + ref.get("pair_ids"));
                    }
                }
            }
            System.out.printf("tokenizer %s (%s): %d of %d texts equal (%d with non-Latin letters, %d with emoji), "
                    + "%d of %d pairs%s%n", kind, tokenizer.describe(), singles, texts.size(), nonLatin, emoji, pairs, pairsChecked,
                    pieces == null ? "" : "; " + ties + " of them equal-score segmentations whose tie was broken otherwise");
        }
        assertTrue(mismatches.isEmpty(), kind + ": " + (texts.size() - singles) + " texts and " + (pairsChecked - pairs)
                + " pairs differ, first: " + String.join("\n", mismatches));
        assertTrue(pairsChecked >= 1000, kind + ": only " + pairsChecked + " pairs");
    }

    /**
     * Whether two SentencePiece segmentations are equally good: the same pieces' text and the same total score. A
     * Unigram lattice breaks such ties by the rounding of its sums, which SentencePiece does in float32 and Hugging
     * Face in float64 ("0" + "00" against "00" + "0" in "2000"): both are the model's best segmentation.
     */
    private boolean tie(TextTokenizer.Encoding e, JsonNode ids) {
        if (pieces == null) {
            return false;
        }
        StringBuilder ours = new StringBuilder();
        StringBuilder theirs = new StringBuilder();
        double ourScore = 0;
        double theirScore = 0;
        for (int id : e.ids()) {
            ours.append(pieces.get(id).text());
            ourScore += pieces.get(id).score();
        }
        for (JsonNode id : ids) {
            theirs.append(pieces.get(id.asInt()).text());
            theirScore += pieces.get(id.asInt()).score();
        }
        boolean tie = ours.toString().equals(theirs.toString()) && Math.abs(ourScore - theirScore) < 1e-3;
        ties += tie ? 1 : 0;
        return tie;
    }

    private static boolean same(TextTokenizer.Encoding e, JsonNode ids, JsonNode typeIds) {
        if (e.ids().length != ids.size() || e.truncated()) {
            return false;
        }
        for (int i = 0; i < ids.size(); i++) {
            if (e.ids()[i] != ids.get(i).asInt() || e.segmentIds()[i] != typeIds.get(i).asInt()) {
                return false;
            }
        }
        return true;
    }

    static List<JsonNode> readJsonLines(Path gz) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(new GZIPInputStream(Files.newInputStream(gz)),
                StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                if (!line.isBlank()) {
                    out.add(Json.MAPPER.readTree(line));
                }
            }
        }
        return out;
    }
}

package dev.finetune.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.runtime.FineTuneException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which tokenizer a model's assets hold, what each kind adds around a text, and clear errors for broken files. */
class TokenizerFileTest {
    private static Path assets(String family) {
        return TestFiles.model("families").resolve(family).resolve("assets");
    }

    @Test
    void findsEachKindAmongTheAssetsPreferringTokenizerJson(@TempDir Path tmp) throws IOException {
        assertEquals(TokenizerFile.Kind.WORDPIECE, TokenizerFile.find(assets("bert-keras"), "bert").kind());
        assertEquals(TokenizerFile.Kind.TOKENIZER_JSON, TokenizerFile.find(assets("roberta-keras"), "roberta").kind());
        assertEquals(TokenizerFile.Kind.SENTENCEPIECE, TokenizerFile.find(assets("albert-keras"), "albert").kind());
        // Both a vocab.txt and a tokenizer.json: the tokenizer.json says more (normaliser, template), so it wins.
        Files.copy(assets("bert-keras").resolve("vocab.txt"), tmp.resolve("vocab.txt"));
        Files.copy(assets("distilbert-keras").resolve("tokenizer.json"), tmp.resolve("tokenizer.json"));
        assertEquals(tmp.resolve("tokenizer.json"), TokenizerFile.find(tmp, "both").file());
    }

    @Test
    void aModelWithoutTokenizerIsToldWhatItHasAndWhatToDo(@TempDir Path tmp) throws IOException {
        Files.writeString(tmp.resolve("labels.txt"), "a\n");
        FineTuneException e = assertThrows(FineTuneException.class, () -> TokenizerFile.find(tmp, "the-model"));
        assertTrue(e.getMessage().contains("the-model") && e.getMessage().contains("[labels.txt]")
                && e.getMessage().contains("<tokenizer>"), e.getMessage());
    }

    @Test
    void specialTokensComeFromTheTokenizer() {
        try (TextTokenizer roberta = TokenizerFile.of(assets("roberta-keras").resolve("tokenizer.json")).open(false);
             TextTokenizer gpt = TokenizerFile.of(assets("gpt-keras").resolve("tokenizer.json")).open(false);
             TextTokenizer albert = TokenizerFile.of(assets("albert-keras").resolve("spiece.model")).open(true)) {
            int[] pair = roberta.encode("games", "puzzles", 64).ids();
            // <s> A </s></s> B </s>: RoBERTa's template, ids 0 and 2 in this vocabulary.
            assertEquals(0, pair[0]);
            assertEquals(2, pair[pair.length - 1]);
            assertEquals(2, java.util.Arrays.stream(pair).filter(i -> i == 2).count() - 1);
            int[] single = gpt.encode("games", null, 64).ids();
            int[] plain = gpt.encode("games", null, 64).ids();
            assertArrayEquals(plain, single);
            assertTrue(java.util.Arrays.stream(single).noneMatch(i -> i == gpt.padId()), "GPT-2 adds no special token");
            TextTokenizer.Encoding a = albert.encode("Games", "Puzzles", 64);
            assertEquals(2, a.ids()[0]);
            assertEquals(3, a.ids()[a.ids().length - 1]);
            assertEquals(1, a.segmentIds()[a.ids().length - 1]);
            assertEquals(albert.encode("games", "puzzles", 64).ids().length, a.ids().length, "lower-cased first");
        }
    }

    /** A SentencePiece model without upper-case pieces was trained lower-cased (ALBERT's): text is lower-cased unless told. */
    @Test
    void casingDefaultsFollowTheTokenizer() {
        assertTrue(TokenizerFile.of(assets("albert-keras").resolve("spiece.model")).lowerCaseByDefault(false));
        assertTrue(!TokenizerFile.of(assets("distilbert-keras").resolve("tokenizer.json")).lowerCaseByDefault(true));
        assertTrue(TokenizerFile.of(assets("bert-keras").resolve("vocab.txt")).lowerCaseByDefault(true));
        // ALBERT's pieces start <pad> <unk> [CLS]: not the fairseq layout, whatever the table's size.
        TokenizerFile albert = TokenizerFile.of(assets("albert-keras").resolve("spiece.model"));
        assertTrue(!albert.fairseqNumbering(1002L));
        // SentencePiece's default numbering: fairseq's when the table has two rows more than the 600 pieces, else not.
        TokenizerFile xlmr = TokenizerFile.of(TestFiles.data("tokenizer-reference").resolve("sentencepiece.bpe.model"));
        assertTrue(xlmr.fairseqNumbering(602L));
        assertTrue(!xlmr.fairseqNumbering(600L));
    }

    @Test
    void truncationKeepsTheTemplateAndSaysSo() {
        try (TextTokenizer roberta = TokenizerFile.of(assets("roberta-keras").resolve("tokenizer.json")).open(false)) {
            TextTokenizer.Encoding e = roberta.encode("a long text about games and puzzles and networks and tools", null, 6);
            assertEquals(6, e.ids().length);
            assertTrue(e.truncated());
            assertEquals(2, e.ids()[5], "ends with </s>");
            assertTrue(!roberta.encode("games", null, 6).truncated());
        }
    }

    @Test
    void brokenFilesNameThemselves(@TempDir Path tmp) throws IOException {
        Path json = tmp.resolve("tokenizer.json");
        Files.writeString(json, "{\"model\": ");
        FineTuneException e = assertThrows(FineTuneException.class, () -> TokenizerFile.of(json).open(false));
        assertTrue(e.getMessage().contains(json.toString()), e.getMessage());
        Path model = tmp.resolve("spiece.model");
        Files.write(model, new byte[] {1, 2, 3});
        e = assertThrows(FineTuneException.class, () -> TokenizerFile.of(model).open(false));
        assertTrue(e.getMessage().contains(model.toString()), e.getMessage());
    }
}

package dev.finetune.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.finetune.engine.TestFiles;
import dev.finetune.runtime.FineTuneException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BertTokenizerTest {
    private final BertTokenizer tokenizer = new BertTokenizer(Vocabulary.read(TestFiles.model("vocab.txt")), true);

    /** Reference ids computed once by the independent `tokenizers` package (src/models/generate.py). */
    @Test
    void matchesReferenceIdsOnTrickyStrings() throws IOException {
        JsonNode fixture = new ObjectMapper().readTree(TestFiles.data("wordpiece-reference.json").toFile());
        int checked = 0;
        for (JsonNode c : fixture.get("cases")) {
            int[] expected = new int[c.get("ids").size()];
            for (int i = 0; i < expected.length; i++) {
                expected[i] = c.get("ids").get(i).asInt();
            }
            int[] actual = tokenizer.encode(c.get("text").asText(), null, 512).ids();
            assertArrayEquals(expected, actual, "ids of " + c.get("text") + " (tokens " + c.get("tokens") + ")");
            checked++;
        }
        assertTrue(checked >= 25, "fixture has " + checked + " cases");
    }

    @Test
    void pairGetsSegmentsAndTruncatesTheLongerTextFirst() {
        TextTokenizer.Encoding e = tokenizer.encode("good good good good good good", "bad", 8);
        assertEquals(8, e.ids().length);
        assertTrue(e.truncated());
        int bad = tokenizer.tokenIds("bad").get(0);
        int good = tokenizer.tokenIds("good").get(0);
        assertArrayEquals(new int[] {tokenizer.clsId, good, good, good, good, tokenizer.sepId, bad, tokenizer.sepId}, e.ids());
        assertArrayEquals(new int[] {0, 0, 0, 0, 0, 0, 1, 1}, e.segmentIds());
    }

    @Test
    void keepsCaseWhenNotLowerCasing() {
        BertTokenizer cased = new BertTokenizer(Vocabulary.read(TestFiles.model("vocab.txt")), false);
        assertEquals(tokenizer.unkId, cased.tokenIds("HELLO").get(0));
        assertEquals(tokenizer.tokenIds("hello"), cased.tokenIds("hello"));
    }

    @Test
    void rejectsAVocabularyWithoutSpecialTokens(@TempDir Path dir) throws IOException {
        Path v = Files.writeString(dir.resolve("vocab.txt"), "a\nb\nc\n");
        FineTuneException e = assertThrows(FineTuneException.class, () -> Vocabulary.read(v));
        assertTrue(e.getMessage().contains("[PAD]") && e.getMessage().contains(v.toString()), e.getMessage());
    }
}

package dev.finetune.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.TestFiles;
import dev.finetune.runtime.Json;
import dev.finetune.runtime.tokenizer.TextTokenizer.WordEncoding;
import dev.finetune.runtime.tokenizer.WordWindows.Window;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Sentences given as words (token classification): {@link TextTokenizer#encodeWords} gives the ids and word ids of the
 * Python reference ({@code tokenizers} with {@code is_pretokenized=True}, {@code sentencepiece} word by word) for every
 * family's tokenizer, on the sentences of {@code src/data/tokenizer-reference/words.jsonl.gz} (made by
 * {@code src/data/make_word_reference.py}); {@link WordWindows} cuts long sentences at word boundaries and labels first
 * sub-tokens only.
 */
class WordEncodingTest {
    private static final String LONG_WORD = "Pneumonoultramicroscopicsilicovolcanoconiosis";
    private static final List<String> SENTENCE = List.of("the", "quick", "brown", "fox", "jumps", "over", "the", "lazy",
            "dog", ",", "and", "the", "dog", "sleeps", "on", "under", "the", "old", "oak", "tree", "near", "the", "river",
            "bank", "while", "children", "play", "football", "in", "the", "park", "across", "the", "street", "from", "the",
            "library", ".");

    /** The families' tokenizers by reference kind: file, lower-case, fairseq numbering. */
    private static TokenizerFile file(String kind) {
        return TokenizerFile.of(TestFiles.shared().resolve(switch (kind) {
            case "wordpiece-vocab" -> "models/families/bert-keras/assets/vocab.txt";
            case "wordpiece-json" -> "models/families/distilbert-keras/assets/tokenizer.json";
            case "bpe-roberta" -> "models/families/roberta-keras/assets/tokenizer.json";
            case "bpe-gpt" -> "models/families/gpt-keras/assets/tokenizer.json";
            case "sentencepiece" -> "models/families/albert-keras/assets/spiece.model";
            case "sentencepiece-fairseq" -> "data/tokenizer-reference/sentencepiece.bpe.model";
            default -> throw new IllegalArgumentException(kind);
        }));
    }

    private static TextTokenizer open(String kind) {
        return file(kind).open(kind.equals("wordpiece-vocab") || kind.equals("sentencepiece"), kind.equals("sentencepiece-fairseq"));
    }

    private static List<String> words(JsonNode row) {
        List<String> words = new ArrayList<>();
        row.get("words").forEach(w -> words.add(w.asText()));
        return words;
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"wordpiece-vocab", "wordpiece-json", "bpe-roberta", "bpe-gpt", "sentencepiece", "sentencepiece-fairseq"})
    void idsAndWordIdsEqualThePythonReference(String kind) throws IOException {
        List<JsonNode> rows = TokenizerReferenceTest.readJsonLines(TestFiles.data("tokenizer-reference").resolve("words.jsonl.gz"));
        assertTrue(rows.size() >= 50, "only " + rows.size() + " sentences");
        List<SentencePieceModel.Piece> pieces = null;
        if (kind.startsWith("sentencepiece")) {
            SentencePieceModel model = SentencePieceModel.read(file(kind).file());
            pieces = kind.endsWith("fairseq") ? model.fairseqNumbering() : model.pieces();
        }
        int equal = 0;
        int ties = 0;
        int raw = 0;
        int unknownWords = 0;
        boolean cjk = false;
        boolean accents = false;
        boolean digits = false;
        boolean mixedCase = false;
        List<String> mismatches = new ArrayList<>();
        try (TextTokenizer tokenizer = open(kind)) {
            for (JsonNode row : rows) {
                List<String> words = words(row);
                String text = String.join(" ", words);
                cjk |= text.codePoints().anyMatch(BasicTokenizer::isCjk);
                accents |= text.chars().anyMatch(c -> c >= 0xC0 && c <= 0x17F);
                digits |= text.chars().anyMatch(Character::isDigit);
                mixedCase |= words.stream().anyMatch(w -> !w.equals(w.toLowerCase()) && !w.equals(w.toUpperCase()));
                int[] ids = ints(row.get(kind).get("ids"));
                int[] wordIds = ints(row.get(kind).get("word_ids"));
                WordEncoding e = tokenizer.encodeWords(words);
                assertEquals(e.ids().length, e.segmentIds().length);
                assertEquals(e.ids().length, e.wordIds().length);
                assertTrue(Arrays.stream(e.segmentIds()).allMatch(s -> s == 0), "one text: segment 0");
                if (Arrays.equals(ids, e.ids()) && Arrays.equals(wordIds, e.wordIds())) {
                    equal++;
                } else if (pieces != null && tie(pieces, e, ids, wordIds)) {
                    equal++;
                    ties++;
                } else if (mismatches.size() < 5) {
                    mismatches.add(Json.MAPPER.writeValueAsString(row.get("words")) + ": " + Arrays.toString(e.ids()) + " "
                            + Arrays.toString(e.wordIds()) + " instead of " + row.get(kind));
                }
                unknownWords += (int) words.stream().filter(w -> w.isBlank() || w.codePoints().allMatch(Character::isISOControl)).count();
                if (row.has(kind + "-raw")) {
                    // The words exactly as written: the plugin's binding (Rust) and Python give the same ids, glued.
                    WordEncoding r = ((TokenizerJson) tokenizer).encodePreTokenized(words.toArray(String[]::new));
                    if (Arrays.equals(ints(row.get(kind + "-raw").get("ids")), r.ids())
                            && Arrays.equals(ints(row.get(kind + "-raw").get("word_ids")), r.wordIds())) {
                        raw++;
                    } else if (mismatches.size() < 5) {
                        mismatches.add("raw " + row.get("words") + ": " + Arrays.toString(r.ids()) + " instead of " + row.get(kind + "-raw"));
                    }
                }
            }
            System.out.printf("words %s (%s): %d of %d sentences equal%s%s%n", kind, tokenizer.describe(), equal, rows.size(),
                    pieces == null ? "" : ", " + ties + " of them equal-score segmentations whose tie was broken otherwise",
                    row0HasRaw(rows, kind) ? ", " + raw + " equal as written (is_pretokenized without spaces)" : "");
        }
        assertTrue(mismatches.isEmpty(), kind + ": " + (rows.size() - equal) + " sentences differ, first: " + String.join("\n", mismatches));
        if (row0HasRaw(rows, kind)) {
            assertEquals(rows.size(), raw, kind + ": the binding's pre-tokenized ids differ from Python's");
        }
        assertTrue(cjk && accents && digits && mixedCase, "the sentences lack CJK, accents, digits or mixed case");
        assertTrue(unknownWords > 0, "no sentence has an empty, blank or control-character word");
    }

    private static boolean row0HasRaw(List<JsonNode> rows, String kind) {
        return rows.get(0).has(kind + "-raw");
    }

    /**
     * Whether two SentencePiece segmentations are equally good word by word: the same pieces' text and total score for
     * each word (a Unigram lattice breaks ties by rounding, float32 in SentencePiece, float64 in Hugging Face; see
     * {@link TokenizerReferenceTest}).
     */
    private static boolean tie(List<SentencePieceModel.Piece> pieces, WordEncoding e, int[] ids, int[] wordIds) {
        int words = Arrays.stream(wordIds).max().orElse(-1) + 1;
        if (Arrays.stream(e.wordIds()).max().orElse(-1) + 1 != words) {
            return false;
        }
        for (int w = -1; w < words; w++) {
            StringBuilder ours = new StringBuilder();
            StringBuilder theirs = new StringBuilder();
            double ourScore = 0;
            double theirScore = 0;
            for (int i = 0; i < e.ids().length; i++) {
                if (e.wordIds()[i] == w) {
                    ours.append(pieces.get(e.ids()[i]).text());
                    ourScore += pieces.get(e.ids()[i]).score();
                }
            }
            for (int i = 0; i < ids.length; i++) {
                if (wordIds[i] == w) {
                    theirs.append(pieces.get(ids[i]).text());
                    theirScore += pieces.get(ids[i]).score();
                }
            }
            if (!ours.toString().equals(theirs.toString()) || Math.abs(ourScore - theirScore) > 1e-3) {
                return false;
            }
        }
        return true;
    }

    /** Byte-level BPE: words after the first get the space of running text, so the sentence encodes as its joined text. */
    @ParameterizedTest
    @ValueSource(strings = {"bpe-roberta", "bpe-gpt"})
    void byteLevelWordsEncodeAsTheirJoinedText(String kind) {
        try (TextTokenizer t = open(kind)) {
            WordEncoding e = t.encodeWords(SENTENCE);
            assertArrayEquals(t.encode(String.join(" ", SENTENCE), null, 1_000_000).ids(), e.ids());
            WordEncoding glued = ((TokenizerJson) t).encodePreTokenized(SENTENCE.toArray(String[]::new));
            assertFalse(Arrays.equals(glued.ids(), e.ids()), "as written, the words are glued together");
        }
    }

    /**
     * A word that gives no token (empty, white space, control or format characters only) gets the unknown token's id,
     * where its ids would be; GPT-2's tokenizer has no unknown token and gives its padding id ({@code <|endoftext|>}).
     * Byte-level BPE has a token for every byte, so only an empty first word gives none there.
     */
    @Test
    void aWordWithoutTokensGetsTheUnknownId() {
        try (TextTokenizer bert = open("wordpiece-vocab"); TextTokenizer distil = open("wordpiece-json");
             TextTokenizer albert = open("sentencepiece"); TextTokenizer roberta = open("bpe-roberta"); TextTokenizer gpt = open("bpe-gpt")) {
            BertTokenizer b = (BertTokenizer) bert;
            WordEncoding e = bert.encodeWords(List.of("a", "\u0007", "", " ", "\u200b", "b"));
            int a = b.tokenIds("a").get(0);
            int bb = b.tokenIds("b").get(0);
            assertArrayEquals(new int[] {b.clsId, a, b.unkId, b.unkId, b.unkId, b.unkId, bb, b.sepId}, e.ids());
            assertArrayEquals(new int[] {-1, 0, 1, 2, 3, 4, 5, -1}, e.wordIds());
            assertArrayEquals(new int[] {2, 1, 3}, distil.encodeWords(List.of("\u0007")).ids()); // [CLS] [UNK] [SEP]
            assertArrayEquals(new int[] {2, 1, 3}, albert.encodeWords(List.of("")).ids());
            assertArrayEquals(new int[] {-1, 0, -1}, albert.encodeWords(List.of("")).wordIds());
            assertArrayEquals(new int[] {0, 3, 2}, roberta.encodeWords(List.of("")).ids()); // <s> <unk> </s>
            assertArrayEquals(new int[] {gpt.padId()}, gpt.encodeWords(List.of("")).ids());
            assertArrayEquals(new int[] {0}, gpt.encodeWords(List.of("")).wordIds());
            // No words at all: only the special tokens.
            assertArrayEquals(new int[] {b.clsId, b.sepId}, bert.encodeWords(List.of()).ids());
            assertArrayEquals(new int[] {0, 2}, roberta.encodeWords(List.of()).ids());
            assertArrayEquals(new int[] {-1, -1}, roberta.encodeWords(List.of()).wordIds());
        }
    }

    /** encodeWords does not truncate, not even past the 512 ids the binding would otherwise default to. */
    @ParameterizedTest
    @ValueSource(strings = {"wordpiece-vocab", "bpe-roberta", "sentencepiece"})
    void wordsAreNotTruncated(String kind) {
        try (TextTokenizer t = open(kind)) {
            List<String> words = Collections.nCopies(700, "games");
            WordEncoding e = t.encodeWords(words);
            assertTrue(e.ids().length >= 702, kind + ": " + e.ids().length);
            assertEquals(699, Arrays.stream(e.wordIds()).max().getAsInt());
        }
    }

    @Test
    void aSentenceThatFitsIsOneWindow() {
        try (TextTokenizer t = open("wordpiece-vocab")) {
            List<Window> windows = WordWindows.split(t, SENTENCE, 128);
            assertEquals(1, windows.size());
            Window w = windows.get(0);
            assertEquals(0, w.firstWord());
            assertEquals(SENTENCE.size(), w.wordCount());
            assertFalse(w.truncated());
            assertArrayEquals(t.encodeWords(SENTENCE).ids(), w.encoding().ids());
        }
    }

    /** BERT: 35 words of one id each, 14 ids a window ([CLS] and [SEP] around 12 words): windows of 12, 12 and 11. */
    @Test
    void aLongSentenceSplitsIntoThreeWindowsAtWordBoundaries() {
        List<String> words = List.of(("this package provides a library for the network and the files with tools for data files , "
                + "the server and client programs support a set of simple text files for users of the system .").split(" "));
        try (TextTokenizer bert = open("wordpiece-vocab")) {
            assertEquals(words.size() + 2, bert.encodeWords(words).ids().length, "one id a word");
            AtomicInteger calls = new AtomicInteger();
            List<Window> windows = WordWindows.split(counting(bert, calls), words, 14);
            assertEquals(3, windows.size());
            assertEquals(List.of(0, 12, 24), windows.stream().map(Window::firstWord).toList());
            assertEquals(List.of(12, 12, 11), windows.stream().map(Window::wordCount).toList());
            assertEquals(4, calls.get(), "the sentence once, then each window once");
            checkWindows(bert, words, windows, 14);
        }
    }

    /** Every family: windows cover each word once, in order, within maxLength, each as full as the next word allows. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"wordpiece-vocab", "wordpiece-json", "bpe-roberta", "bpe-gpt", "sentencepiece", "sentencepiece-fairseq"})
    void windowsCoverEveryWordOnceWithinTheLength(String kind) {
        try (TextTokenizer t = open(kind)) {
            List<String> words = new ArrayList<>(SENTENCE);
            words.addAll(List.of("Zürich", "東京", "1996-08-22", "McDonald's"));
            WordEncoding all = t.encodeWords(words);
            int special = (int) Arrays.stream(all.wordIds()).filter(w -> w < 0).count();
            int maxLength = special + (all.ids().length - special) / 3;
            AtomicInteger calls = new AtomicInteger();
            List<Window> windows = WordWindows.split(counting(t, calls), words, maxLength);
            assertTrue(windows.size() >= 3, kind + ": " + windows.size() + " windows");
            assertTrue(calls.get() <= 1 + windows.size() + 2, kind + ": " + calls.get() + " encodings for " + windows.size() + " windows");
            checkWindows(t, words, windows, maxLength);
        }
    }

    private static void checkWindows(TextTokenizer t, List<String> words, List<Window> windows, int maxLength) {
        int next = 0;
        for (int k = 0; k < windows.size(); k++) {
            Window w = windows.get(k);
            assertEquals(next, w.firstWord(), "windows follow each other");
            assertTrue(w.wordCount() >= 1);
            assertFalse(w.truncated());
            assertTrue(w.encoding().ids().length <= maxLength, w.encoding().ids().length + " ids");
            List<String> own = words.subList(w.firstWord(), w.firstWord() + w.wordCount());
            assertArrayEquals(t.encodeWords(own).ids(), w.encoding().ids());
            assertArrayEquals(t.encodeWords(own).wordIds(), w.encoding().wordIds(), "word ids local to the window");
            if (k + 1 < windows.size()) {
                List<String> more = words.subList(w.firstWord(), w.firstWord() + w.wordCount() + 1);
                assertTrue(t.encodeWords(more).ids().length > maxLength, "window " + k + " could hold another word");
            }
            next += w.wordCount();
        }
        assertEquals(words.size(), next, "every word in a window");
    }

    /** A word whose sub-tokens alone exceed the window is a window of its own with its first sub-tokens. */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"wordpiece-vocab, 6", "wordpiece-json, 6", "bpe-roberta, 6", "bpe-gpt, 4", "sentencepiece, 6", "sentencepiece-fairseq, 6"})
    void aWordTooLongForTheWindowIsCut(String kind, int maxLength) {
        try (TextTokenizer t = open(kind)) {
            List<String> words = List.of("a", LONG_WORD, "b");
            WordEncoding alone = t.encodeWords(List.of(LONG_WORD));
            int special = (int) Arrays.stream(alone.wordIds()).filter(w -> w < 0).count();
            assertTrue(alone.ids().length - special > maxLength, kind + ": the word has only " + (alone.ids().length - special) + " ids");
            List<Window> windows = WordWindows.split(t, words, maxLength);
            assertEquals(3, windows.size(), kind);
            Window cut = windows.get(1);
            assertEquals(1, cut.firstWord());
            assertEquals(1, cut.wordCount());
            assertTrue(cut.truncated());
            assertFalse(windows.get(0).truncated() || windows.get(2).truncated());
            int[] ids = cut.encoding().ids();
            assertEquals(maxLength, ids.length);
            int lead = 0;
            while (alone.wordIds()[lead] < 0) {
                lead++;
            }
            int kept = maxLength - special;
            int[] expected = new int[maxLength];
            System.arraycopy(alone.ids(), 0, expected, 0, lead + kept);
            System.arraycopy(alone.ids(), alone.ids().length - (special - lead), expected, lead + kept, special - lead);
            assertArrayEquals(expected, ids, kind + ": the template around the word's first " + kept + " sub-tokens");
            assertEquals(kept, Arrays.stream(cut.encoding().wordIds()).filter(w -> w == 0).count());
            int[] labels = WordWindows.firstSubTokenLabels(cut.encoding(), new int[] {5, 6, 7}, cut.firstWord());
            assertEquals(1, Arrays.stream(labels).filter(l -> l == 6).count(), "the cut word keeps its label");
        }
    }

    @Test
    void aWindowWithoutRoomForAWordIsRefused() {
        try (TextTokenizer t = open("bpe-roberta")) {
            assertThrows(IllegalArgumentException.class, () -> WordWindows.split(t, SENTENCE, 2));
        }
    }

    /** Labels on each word's first sub-token; special tokens and further sub-tokens -1; windows index the sentence's labels. */
    @Test
    void labelsGoToFirstSubTokensOnly() {
        try (TextTokenizer t = open("wordpiece-vocab")) {
            List<String> words = List.of("Peter", "Blackburn", "lives", "in", "Zürich", "since", "1996-08-22", ".");
            int[] wordLabels = {1, 2, 0, 0, 3, 0, 4, 0};
            WordEncoding e = t.encodeWords(words);
            int[] labels = WordWindows.firstSubTokenLabels(e, wordLabels, 0);
            int[] expected = new int[e.ids().length];
            for (int i = 0; i < expected.length; i++) {
                int w = e.wordIds()[i];
                expected[i] = w < 0 || (i > 0 && e.wordIds()[i - 1] == w) ? -1 : wordLabels[w];
            }
            assertArrayEquals(expected, labels);
            assertEquals(-1, labels[0]);
            assertEquals(-1, labels[labels.length - 1]);
            assertTrue(e.ids().length > words.size() + 4, "some words have several sub-tokens");
            assertEquals(words.size(), Arrays.stream(labels).filter(l -> l >= 0).count(), "one label a word");

            // In windows: each word labelled exactly once, with its own label from the sentence's array.
            List<Window> windows = WordWindows.split(t, words, 7);
            assertTrue(windows.size() >= 3);
            List<Integer> seen = new ArrayList<>();
            for (Window w : windows) {
                for (int l : WordWindows.firstSubTokenLabels(w.encoding(), wordLabels, w.firstWord())) {
                    if (l >= 0) {
                        seen.add(l);
                    }
                }
            }
            assertEquals(Arrays.stream(wordLabels).boxed().toList(), seen);
        }
    }

    /** A tokenizer that counts calls of encodeWords. */
    private static TextTokenizer counting(TextTokenizer t, AtomicInteger calls) {
        return new TextTokenizer() {
            @Override
            public Encoding encode(String text, String pair, int maxLength) {
                return t.encode(text, pair, maxLength);
            }

            @Override
            public WordEncoding encodeWords(List<String> words) {
                calls.incrementAndGet();
                return t.encodeWords(words);
            }

            @Override
            public int padId() {
                return t.padId();
            }

            @Override
            public int vocabularySize() {
                return t.vocabularySize();
            }

            @Override
            public String describe() {
                return t.describe();
            }
        };
    }
}

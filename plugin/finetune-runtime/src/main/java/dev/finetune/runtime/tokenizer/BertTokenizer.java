package dev.finetune.runtime.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * BERT WordPiece tokenization from a model's own {@code vocab.txt}: basic tokenization, then greedy
 * longest-match-first sub-words ({@code ##} continuations), {@code [UNK]} for a word that cannot be split or is
 * longer than 100 characters. Special tokens written in the text ({@code [SEP]}) stay whole, as in Hugging Face.
 */
public final class BertTokenizer implements TextTokenizer {
    private static final int MAX_CHARS_PER_WORD = 100;
    private static final Pattern SPECIAL = Pattern.compile("\\[(?:PAD|UNK|CLS|SEP|MASK)\\]");

    private final Vocabulary vocab;
    private final BasicTokenizer basic;
    private final boolean lowerCase;
    private final int padId;
    public final int unkId;
    public final int clsId;
    public final int sepId;

    public BertTokenizer(Vocabulary vocab, boolean lowerCase) {
        this.vocab = vocab;
        this.basic = new BasicTokenizer(lowerCase);
        this.lowerCase = lowerCase;
        padId = vocab.id("[PAD]");
        unkId = vocab.id("[UNK]");
        clsId = vocab.id("[CLS]");
        sepId = vocab.id("[SEP]");
    }

    /** Word-piece ids of {@code text}, without [CLS]/[SEP]. */
    public List<Integer> tokenIds(String text) {
        List<Integer> out = new ArrayList<>();
        Matcher m = SPECIAL.matcher(text);
        int from = 0;
        while (m.find()) {
            pieces(text.substring(from, m.start()), out);
            out.add(vocab.id(m.group()));
            from = m.end();
        }
        pieces(text.substring(from), out);
        return out;
    }

    private void pieces(String text, List<Integer> out) {
        for (String word : basic.tokenize(text)) {
            wordPiece(word, out);
        }
    }

    private void wordPiece(String word, List<Integer> out) {
        if (word.codePointCount(0, word.length()) > MAX_CHARS_PER_WORD) {
            out.add(unkId);
            return;
        }
        List<Integer> pieces = new ArrayList<>();
        int start = 0;
        while (start < word.length()) {
            int end = word.length();
            int found = -1;
            while (start < end) {
                String sub = (start > 0 ? "##" : "") + word.substring(start, end);
                int id = vocab.id(sub);
                if (id >= 0) {
                    found = id;
                    break;
                }
                end = word.offsetByCodePoints(end, -1);
            }
            if (found < 0) {
                out.add(unkId);
                return;
            }
            pieces.add(found);
            start = end;
        }
        out.addAll(pieces);
    }

    /**
     * {@code [CLS] a [SEP]} or {@code [CLS] a [SEP] b [SEP]}, truncated to {@code maxLength} by taking tokens from
     * the longer text first (BERT's rule), with segment ids 0 for the first text and 1 for the second.
     */
    @Override
    public Encoding encode(String text, String pair, int maxLength) {
        List<Integer> a = tokenIds(text);
        List<Integer> b = pair == null ? List.of() : tokenIds(pair);
        int special = pair == null ? 2 : 3;
        int budget = Math.max(0, maxLength - special);
        int lenA = a.size();
        int lenB = b.size();
        while (lenA + lenB > budget) {
            if (lenA >= lenB) {
                lenA--;
            } else {
                lenB--;
            }
        }
        int n = lenA + lenB + special;
        int[] ids = new int[n];
        int[] segments = new int[n];
        int k = 0;
        ids[k++] = clsId;
        for (int i = 0; i < lenA; i++) {
            ids[k++] = a.get(i);
        }
        ids[k++] = sepId;
        if (pair != null) {
            for (int i = 0; i < lenB; i++) {
                segments[k] = 1;
                ids[k++] = b.get(i);
            }
            segments[k] = 1;
            ids[k++] = sepId;
        }
        return new Encoding(ids, segments, a.size() + b.size() > lenA + lenB);
    }

    /**
     * {@code [CLS] w0 w1 ... [SEP]}, each word through the basic tokenizer and WordPiece on its own (a word the basic
     * tokenizer splits, such as {@code don't}, keeps all its pieces), {@code [UNK]} for a word that gives none (white
     * space, control or format characters only, or empty): what Hugging Face's {@code BertWordPieceTokenizer} gives for
     * {@code encode(words, is_pretokenized=True)}, plus that {@code [UNK]}.
     */
    @Override
    public WordEncoding encodeWords(List<String> words) {
        List<Integer> ids = new ArrayList<>(words.size() * 2 + 2);
        List<Integer> wordIds = new ArrayList<>(words.size() * 2 + 2);
        ids.add(clsId);
        wordIds.add(-1);
        for (int w = 0; w < words.size(); w++) {
            List<Integer> pieces = tokenIds(words.get(w));
            if (pieces.isEmpty()) {
                pieces = List.of(unkId);
            }
            ids.addAll(pieces);
            for (int k = 0; k < pieces.size(); k++) {
                wordIds.add(w);
            }
        }
        ids.add(sepId);
        wordIds.add(-1);
        return new WordEncoding(ids.stream().mapToInt(Integer::intValue).toArray(), new int[ids.size()],
                wordIds.stream().mapToInt(Integer::intValue).toArray());
    }

    @Override
    public int padId() {
        return padId;
    }

    @Override
    public int vocabularySize() {
        return vocab.size();
    }

    @Override
    public String describe() {
        return "WordPiece (vocab.txt, " + vocab.size() + " tokens" + (lowerCase ? ", lower-cased" : ", cased") + ")";
    }
}

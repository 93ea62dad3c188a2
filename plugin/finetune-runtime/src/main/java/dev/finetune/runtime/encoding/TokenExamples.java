package dev.finetune.runtime.encoding;


import dev.finetune.runtime.tokenizer.TextTokenizer;
import dev.finetune.runtime.tokenizer.WordWindows;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Token classification's examples: a sentence of words becomes one example per window (a sentence longer than the
 * maximum length is cut between words, never silently truncated), each word's tag sits on its first sub-token, and
 * per-word predictions are read back from the same positions.
 */
public final class TokenExamples {
    private TokenExamples() {
    }

    /** The windows of one sentence; {@code tags} holds a tag index per word, or is null when the sentence is unlabelled. */
    public static List<EncodedExample> encode(TextTokenizer tokenizer, List<String> words, int[] tags, long line, int maxLength) {
        List<EncodedExample> out = new ArrayList<>();
        for (WordWindows.Window w : WordWindows.split(tokenizer, words, maxLength)) {
            TextTokenizer.WordEncoding e = w.encoding();
            int[] starts = wordStarts(e.wordIds(), w.firstWord());
            int[] labels = null;
            if (tags != null) {
                labels = new int[starts.length];
                for (int p = 0; p < starts.length; p++) {
                    labels[p] = starts[p] < 0 ? -1 : tags[starts[p]];
                }
            }
            out.add(new EncodedExample(e.ids(), e.segmentIds(), -1, null, labels, starts, line, w.truncated()));
        }
        return out;
    }

    /**
     * Per id, the sentence-wide index of the word it starts, else -1 (special tokens, later sub-tokens).
     * {@code wordIds} count from the window's first word.
     */
    public static int[] wordStarts(int[] wordIds, int firstWord) {
        int[] starts = new int[wordIds.length];
        for (int p = 0; p < wordIds.length; p++) {
            boolean first = wordIds[p] >= 0 && (p == 0 || wordIds[p - 1] != wordIds[p]);
            starts[p] = first ? firstWord + wordIds[p] : -1;
        }
        return starts;
    }

    /** One sentence's predicted tag per word and its probability; -1 for a word the model saw no token of. */
    public record WordTags(int[] tags, float[] probabilities) {
    }

    /**
     * The tag of each of {@code words} words from the outputs of the sentence's windows ({@code length × classes}
     * probabilities per row, position by position, as the serving signature gives them).
     */
    public static WordTags read(List<EncodedExample> windows, List<float[]> outputs, int classes, int words) {
        int[] tags = new int[words];
        float[] probabilities = new float[words];
        Arrays.fill(tags, -1);
        for (int k = 0; k < windows.size(); k++) {
            int[] starts = windows.get(k).wordStarts();
            float[] out = outputs.get(k);
            for (int p = 0; p < starts.length; p++) {
                if (starts[p] >= 0) {
                    int best = Scores.argmax(out, p * classes, classes);
                    tags[starts[p]] = best;
                    probabilities[starts[p]] = out[p * classes + best];
                }
            }
        }
        return new WordTags(tags, probabilities);
    }
}

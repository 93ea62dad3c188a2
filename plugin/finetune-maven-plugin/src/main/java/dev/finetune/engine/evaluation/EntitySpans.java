package dev.finetune.engine.evaluation;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Entities read from a tag sequence the way seqeval's default (non-strict, conlleval-compatible) {@code get_entities}
 * reads them, so that the entity F1 reported here is the number users compare against papers and the Hugging Face
 * examples. One reader serves IOB1, IOB2/BIO and BIOES.
 *
 * <p>Tags are {@code O} or a prefix {@code B-}, {@code I-}, {@code E-}, {@code S-} followed by a non-empty type (all
 * after the first dash: {@code B-PER-X} has type {@code PER-X}). Walking the tags with the previous tag in hand (an
 * {@code O} before the first and after the last):
 * <ul>
 *   <li>an entity ends before the current tag when the previous tag was {@code E-} or {@code S-}; when it was
 *       {@code B-} or {@code I-} and the current one is {@code B-}, {@code S-} or {@code O}; or when the type
 *       changes;</li>
 *   <li>an entity starts at {@code B-} and {@code S-}; at {@code I-} or {@code E-} after {@code O}, {@code E-} or
 *       {@code S-} (so a stray {@code I-}/{@code E-} starts one, as IOB1 needs); and at any tag whose type differs
 *       from the previous tag's.</li>
 * </ul>
 * So {@code I-}/{@code E-} continue an entity of their type that a {@code B-} or {@code I-} opened, and {@code E-}
 * closes it. Unlike seqeval, which only warns, a tag of any other shape is refused: read as seqeval reads it (first
 * character as the prefix) it would produce meaningless entities silently.
 */
public final class EntitySpans {
    private EntitySpans() {
    }

    /** An entity: its type and token positions, end exclusive. */
    public record Span(String type, int start, int end) {
    }

    /** @throws IllegalArgumentException for a tag that is neither O nor B-/I-/E-/S- followed by a type */
    public static List<Span> of(List<String> tags) {
        List<Span> spans = new ArrayList<>();
        char prevTag = 'O';
        String prevType = null;
        int begin = 0;
        for (int i = 0; i <= tags.size(); i++) {
            String chunk = i < tags.size() ? tags.get(i) : "O";
            char tag = prefix(chunk);
            String type = tag == 'O' ? null : chunk.substring(2);
            if (ends(prevTag, tag, prevType, type)) {
                spans.add(new Span(prevType, begin, i));
            }
            if (starts(prevTag, tag, prevType, type)) {
                begin = i;
            }
            prevTag = tag;
            prevType = type;
        }
        return spans;
    }

    private static boolean ends(char prevTag, char tag, String prevType, String type) {
        return prevTag == 'E' || prevTag == 'S'
                || (prevTag == 'B' || prevTag == 'I') && (tag == 'B' || tag == 'S' || tag == 'O')
                || prevTag != 'O' && !Objects.equals(prevType, type);
    }

    private static boolean starts(char prevTag, char tag, String prevType, String type) {
        return tag == 'B' || tag == 'S'
                || (prevTag == 'O' || prevTag == 'E' || prevTag == 'S') && (tag == 'I' || tag == 'E')
                || tag != 'O' && !Objects.equals(prevType, type);
    }

    private static char prefix(String chunk) {
        if (chunk.equals("O")) {
            return 'O';
        }
        char c = chunk.isEmpty() ? 0 : chunk.charAt(0);
        if ((c == 'B' || c == 'I' || c == 'E' || c == 'S') && chunk.length() > 2 && chunk.charAt(1) == '-') {
            return c;
        }
        throw new IllegalArgumentException("not an entity tag (O, or B-/I-/E-/S- and a type): \"" + chunk + "\"");
    }
}

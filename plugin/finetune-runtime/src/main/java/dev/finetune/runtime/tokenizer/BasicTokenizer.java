package dev.finetune.runtime.tokenizer;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;

/**
 * BERT's basic tokenizer: drops control characters, turns any white space into a split, puts spaces around
 * CJK ideographs and punctuation, and (when lower-casing) lower-cases and strips accents (NFD, drop marks).
 * Matches Hugging Face's {@code BertNormalizer} + {@code BertPreTokenizer}.
 */
final class BasicTokenizer {
    private final boolean lowerCase;

    BasicTokenizer(boolean lowerCase) {
        this.lowerCase = lowerCase;
    }

    List<String> tokenize(String text) {
        StringBuilder clean = new StringBuilder(text.length() + 16);
        text.codePoints().forEach(cp -> {
            if (cp == 0 || cp == 0xFFFD || isControl(cp)) {
                return;
            }
            if (isWhitespace(cp)) {
                clean.append(' ');
            } else if (isCjk(cp)) {
                clean.append(' ').appendCodePoint(cp).append(' ');
            } else {
                clean.appendCodePoint(cp);
            }
        });
        String s = clean.toString();
        if (lowerCase) {
            s = stripAccents(s.toLowerCase(java.util.Locale.ROOT));
        }
        List<String> out = new ArrayList<>();
        for (String word : s.split(" ")) {
            if (!word.isEmpty()) {
                splitPunctuation(word, out);
            }
        }
        return out;
    }

    private static String stripAccents(String s) {
        String nfd = Normalizer.normalize(s, Normalizer.Form.NFD);
        StringBuilder b = new StringBuilder(nfd.length());
        nfd.codePoints().filter(cp -> Character.getType(cp) != Character.NON_SPACING_MARK).forEach(b::appendCodePoint);
        return b.toString();
    }

    private static void splitPunctuation(String word, List<String> out) {
        StringBuilder cur = new StringBuilder();
        word.codePoints().forEach(cp -> {
            if (isPunctuation(cp)) {
                if (cur.length() > 0) {
                    out.add(cur.toString());
                    cur.setLength(0);
                }
                out.add(new String(Character.toChars(cp)));
            } else {
                cur.appendCodePoint(cp);
            }
        });
        if (cur.length() > 0) {
            out.add(cur.toString());
        }
    }

    static boolean isWhitespace(int cp) {
        return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || Character.getType(cp) == Character.SPACE_SEPARATOR;
    }

    static boolean isControl(int cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r') {
            return false;
        }
        // Code points this JDK's Unicode tables call unassigned are kept: Hugging Face's tables are newer, and what
        // they add (the emoji of Unicode 14 and 15, say) is what real text holds; truly unassigned ones never occur.
        int t = Character.getType(cp);
        return t == Character.CONTROL || t == Character.FORMAT || t == Character.PRIVATE_USE || t == Character.SURROGATE;
    }

    static boolean isPunctuation(int cp) {
        if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
            return true;
        }
        switch (Character.getType(cp)) {
            case Character.CONNECTOR_PUNCTUATION:
            case Character.DASH_PUNCTUATION:
            case Character.START_PUNCTUATION:
            case Character.END_PUNCTUATION:
            case Character.INITIAL_QUOTE_PUNCTUATION:
            case Character.FINAL_QUOTE_PUNCTUATION:
            case Character.OTHER_PUNCTUATION:
                return true;
            default:
                return false;
        }
    }

    static boolean isCjk(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF)
                || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }
}

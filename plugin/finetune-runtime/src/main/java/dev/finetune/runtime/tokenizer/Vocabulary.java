package dev.finetune.runtime.tokenizer;

import dev.finetune.runtime.FineTuneException;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A BERT {@code vocab.txt}: one token a line, the line number (from 0) is the id. */
public final class Vocabulary {
    private final Map<String, Integer> ids;
    private final int size;

    private Vocabulary(Map<String, Integer> ids, int size) {
        this.ids = ids;
        this.size = size;
    }

    public static Vocabulary read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw new FineTuneException("Vocabulary " + file + " is not valid UTF-8.", e);
        } catch (IOException e) {
            throw new FineTuneException("Cannot read vocabulary " + file + ": " + e.getMessage(), e);
        }
        Map<String, Integer> ids = new HashMap<>(lines.size() * 2);
        for (int i = 0; i < lines.size(); i++) {
            String token = lines.get(i).strip();
            if (!token.isEmpty()) {
                // A token listed twice keeps its last line, as Hugging Face's vocabulary loader does.
                ids.put(token, i);
            }
        }
        Vocabulary v = new Vocabulary(ids, lines.size());
        for (String special : new String[] {"[PAD]", "[UNK]", "[CLS]", "[SEP]"}) {
            if (!ids.containsKey(special)) {
                throw new FineTuneException("Vocabulary " + file + " has no " + special + " token: it is not a BERT vocabulary.");
            }
        }
        return v;
    }

    /** The id of {@code token}, or -1. */
    public int id(String token) {
        return ids.getOrDefault(token, -1);
    }

    public boolean contains(String token) {
        return ids.containsKey(token);
    }

    public int size() {
        return size;
    }
}

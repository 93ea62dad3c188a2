package dev.finetune.engine.data;

import java.nio.file.Path;
import java.util.Locale;

/**
 * The file formats the plugin reads. CSV, TSV and JSONL hold labelled texts ({@link DataReader}); CONLL holds one
 * token a line with its tag, for token classification ({@link TokenDataReader}, which also reads JSONL).
 */
public enum TextFormat {
    CSV, TSV, JSONL, CONLL;

    /**
     * {@code auto} picks by extension: .tsv/.tab → TSV, .jsonl/.ndjson/.json → JSONL, .conll/.iob/.bio/.bioes → CONLL,
     * otherwise CSV.
     */
    public static TextFormat of(String name, Path file) {
        String n = name == null ? "auto" : name.toLowerCase(Locale.ROOT);
        if (!n.equals("auto")) {
            return valueOf(n.toUpperCase(Locale.ROOT));
        }
        String f = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (f.endsWith(".tsv") || f.endsWith(".tab")) {
            return TSV;
        }
        if (f.endsWith(".jsonl") || f.endsWith(".ndjson") || f.endsWith(".json")) {
            return JSONL;
        }
        if (f.endsWith(".conll") || f.endsWith(".iob") || f.endsWith(".bio") || f.endsWith(".bioes")) {
            return CONLL;
        }
        return CSV;
    }
}

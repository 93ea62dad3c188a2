package dev.finetune.engine.data;

import java.nio.file.Path;
import java.util.Locale;

/** The file formats the plugin reads. */
public enum TextFormat {
    CSV, TSV, JSONL;

    /** {@code auto} picks by extension: .tsv/.tab → TSV, .jsonl/.ndjson/.json → JSONL, otherwise CSV. */
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
        return CSV;
    }
}

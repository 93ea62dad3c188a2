package dev.finetune.engine.data;

import dev.finetune.runtime.FineTuneException;
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Tokenized rows of one data file in a binary file read through memory maps, so that a data set far larger than the
 * Java heap trains: the heap holds two bytes a row (each row's length, for ordering by length), the operating system's
 * page cache the rest, paged in as batches need them. Rows keep their labels raw (an id into the file's own list of
 * label strings, or a number for regression), so the label map can be chosen after reading, as from the rows in memory.
 * A row of token classification data is one window of a sentence (its windows are consecutive rows, with the
 * sentence's line): its labels are the raw tags of the window's words, and it keeps, per id, the sentence-wide index of
 * the word the id starts ({@link dev.finetune.runtime.encoding.TokenExamples}), from which the per-id tags follow.
 *
 * <p>Layout (big-endian): a header of {@value #HEADER} bytes (magic, version, rows, bytes per id, largest record,
 * where the index and the labels start, the file's size, and the 32-byte key of what it was made from); the records;
 * the index (each row's record offset as a long, then each row's length as a char); the label strings. A record:
 * line (long), length n (int), flags (byte: 1 truncated, 2 segment ids follow, 4 word starts follow), n ids (uint16,
 * or int32 for a vocabulary of more than 65,536 tokens), n segment ids (bytes, only when one is not 0), the window's
 * first word and n word starts (ints, only for a window of words), the number of raw labels k (int), k label ids (int),
 * a target (double).
 */
public final class ExampleFile {
    static final int MAGIC = 0x46544558; // "FTEX"
    static final int VERSION = 2;
    static final int HEADER = 96;
    /** Records are mapped in windows of this size, each overlapping the next by the largest record. */
    static final long WINDOW = 1L << 30;

    /**
     * One row as stored: its encoding, source line, and labels in raw form. A window of words also has its
     * {@code wordStarts} (null otherwise) and its {@code firstWord}, the sentence's index of the word {@code labels[0]}
     * tags.
     */
    public record Row(int[] ids, int[] segmentIds, long line, boolean truncated, int[] labels, double target, int[] wordStarts,
                      int firstWord) {
    }

    private final Path path;
    private final int rows;
    private final int idBytes;
    private final long window;
    private final MappedByteBuffer[] records;
    private final MappedByteBuffer index;
    private final char[] lengths;
    private final List<String> labelNames;

    private ExampleFile(Path path, int rows, int idBytes, long window, MappedByteBuffer[] records, MappedByteBuffer index,
                        char[] lengths, List<String> labelNames) {
        this.path = path;
        this.rows = rows;
        this.idBytes = idBytes;
        this.window = window;
        this.records = records;
        this.index = index;
        this.lengths = lengths;
        this.labelNames = labelNames;
    }

    /**
     * The file at {@code path} if it is a whole file of this version made from {@code key}; null otherwise (missing,
     * cut short, another version or other input), so the caller builds it again rather than trusting it.
     */
    static ExampleFile openIfValid(Path path, byte[] key) {
        return open(path, key, WINDOW);
    }

    /** {@link #openIfValid} with records mapped in windows of {@code window} bytes (tests use small ones); a null key is not checked. */
    static ExampleFile open(Path path, byte[] key, long window) {
        if (!Files.isRegularFile(path)) {
            return null;
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < HEADER) {
                return null;
            }
            ByteBuffer h = ch.map(FileChannel.MapMode.READ_ONLY, 0, HEADER);
            byte[] stored = new byte[32];
            h.get(52, stored, 0, 32);
            if (h.getInt(0) != MAGIC || h.getInt(4) != VERSION || h.getLong(44) != size || key != null && !Arrays.equals(stored, key)) {
                return null;
            }
            int rows = h.getInt(8);
            int idBytes = h.getInt(12);
            int maxRecord = h.getInt(16);
            long indexAt = h.getLong(20);
            long labelsAt = h.getLong(28);
            MappedByteBuffer index = ch.map(FileChannel.MapMode.READ_ONLY, indexAt, labelsAt - indexAt);
            char[] lengths = new char[rows];
            index.slice(rows * 8, rows * 2).asCharBuffer().get(lengths);
            ByteBuffer l = ch.map(FileChannel.MapMode.READ_ONLY, labelsAt, size - labelsAt);
            List<String> names = new ArrayList<>();
            for (int n = l.getInt(), i = 0; i < n; i++) {
                byte[] b = new byte[l.getInt()];
                l.get(b);
                names.add(new String(b, StandardCharsets.UTF_8));
            }
            int windows = (int) Math.max(1, (indexAt - HEADER + window - 1) / window);
            MappedByteBuffer[] records = new MappedByteBuffer[windows];
            for (int w = 0; w < windows; w++) {
                long from = HEADER + w * window;
                records[w] = ch.map(FileChannel.MapMode.READ_ONLY, from, Math.min(indexAt - from, window + maxRecord));
            }
            return new ExampleFile(path, rows, idBytes, window, records, index, lengths, List.copyOf(names));
        } catch (IOException | RuntimeException e) {
            return null; // unreadable or inconsistent: built again
        }
    }

    public int rows() {
        return rows;
    }

    /** Row {@code row}'s number of ids, from the heap. */
    public int length(int row) {
        return lengths[row];
    }

    /** The label strings that raw label ids index. */
    public List<String> labelNames() {
        return labelNames;
    }

    public Path path() {
        return path;
    }

    /** Row {@code row}'s line in the data file. */
    public long line(int row) {
        long at = index.getLong(row * 8) - HEADER;
        return records[(int) (at / window)].getLong((int) (at % window));
    }

    /** Row {@code row}'s raw label ids, read without its ids. */
    public int[] labels(int row) {
        return row(row, false).labels();
    }

    /** Row {@code row}'s target (regression), read without its ids. */
    public double target(int row) {
        return row(row, false).target();
    }

    /** Row {@code row} without its ids, segment ids and word starts (null): its line, labels and target, read quickly. */
    public Row withoutIds(int row) {
        return row(row, false);
    }

    /** Row {@code row}, decoded. */
    public Row row(int row) {
        return row(row, true);
    }

    /** Row {@code row}; without {@code ids}, its ids and segment ids are skipped and null. */
    private Row row(int row, boolean ids) {
        long at = index.getLong(row * 8) - HEADER;
        ByteBuffer b = records[(int) (at / window)];
        int p = (int) (at % window);
        long line = b.getLong(p);
        int n = b.getInt(p + 8);
        byte flags = b.get(p + 12);
        p += 13;
        int[] tokens = null;
        int[] segments = null;
        if (ids) {
            tokens = new int[n];
            for (int i = 0; i < n; i++) {
                tokens[i] = idBytes == 2 ? b.getChar(p + 2 * i) : b.getInt(p + 4 * i);
            }
            segments = new int[n];
            if ((flags & 2) != 0) {
                for (int i = 0; i < n; i++) {
                    segments[i] = b.get(p + n * idBytes + i);
                }
            }
        }
        p += n * idBytes + ((flags & 2) != 0 ? n : 0);
        int[] starts = null;
        int firstWord = 0;
        if ((flags & 4) != 0) {
            firstWord = b.getInt(p);
            if (ids) {
                starts = new int[n];
                for (int i = 0; i < n; i++) {
                    starts[i] = b.getInt(p + 4 + 4 * i);
                }
            }
            p += 4 + 4 * n;
        }
        int[] labels = new int[b.getInt(p)];
        p += 4;
        for (int i = 0; i < labels.length; i++, p += 4) {
            labels[i] = b.getInt(p);
        }
        return new Row(tokens, segments, line, (flags & 1) != 0, labels, b.getDouble(p), starts, firstWord);
    }

    /** Writes a new file row by row; {@link #finish} completes it, and only a finished file opens. */
    static final class Writer implements AutoCloseable {
        private final Path path;
        private final byte[] key;
        private final int idBytes;
        private final DataOutputStream out;
        private final Map<String, Integer> labelIds = new HashMap<>();
        private final List<String> labelNames = new ArrayList<>();
        private long position = HEADER;
        private long[] offsets = new long[1024];
        private char[] lengths = new char[1024];
        private int rows;
        private int maxRecord;

        /** {@code vocabularySize} decides the width of an id: two bytes up to 65,536 tokens, four above. */
        Writer(Path path, byte[] key, int vocabularySize) throws IOException {
            this.path = path;
            this.key = key.clone();
            this.idBytes = vocabularySize <= 1 << 16 ? 2 : 4;
            this.out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(path), 1 << 16));
            out.write(new byte[HEADER]);
        }

        /** The raw id of label string {@code name}, given in order of first appearance. */
        int labelId(String name) {
            return labelIds.computeIfAbsent(name, k -> {
                labelNames.add(k);
                return labelNames.size() - 1;
            });
        }

        void add(int[] ids, int[] segmentIds, long line, boolean truncated, int[] labels, double target) throws IOException {
            add(ids, segmentIds, line, truncated, labels, target, null, 0);
        }

        /** A row; {@code wordStarts} (one per id) and {@code firstWord} for a window of words, else null and 0. */
        void add(int[] ids, int[] segmentIds, long line, boolean truncated, int[] labels, double target, int[] wordStarts,
                 int firstWord) throws IOException {
            if (ids.length > Character.MAX_VALUE) {
                throw new FineTuneException("Line " + line + " has " + ids.length + " tokens; at most " + (int) Character.MAX_VALUE
                        + " are stored.");
            }
            boolean segments = false;
            for (int s : segmentIds) {
                if (s < 0 || s > Byte.MAX_VALUE) {
                    throw new FineTuneException("Segment id " + s + " of line " + line + " does not fit the example cache.");
                }
                segments |= s != 0;
            }
            if (rows == offsets.length) {
                offsets = Arrays.copyOf(offsets, rows * 2);
                lengths = Arrays.copyOf(lengths, rows * 2);
            }
            offsets[rows] = position;
            lengths[rows] = (char) ids.length;
            rows++;
            out.writeLong(line);
            out.writeInt(ids.length);
            out.writeByte((truncated ? 1 : 0) | (segments ? 2 : 0) | (wordStarts != null ? 4 : 0));
            for (int id : ids) {
                if (idBytes == 2) {
                    out.writeChar(id);
                } else {
                    out.writeInt(id);
                }
            }
            if (segments) {
                for (int s : segmentIds) {
                    out.writeByte(s);
                }
            }
            if (wordStarts != null) {
                out.writeInt(firstWord);
                for (int w : wordStarts) {
                    out.writeInt(w);
                }
            }
            out.writeInt(labels.length);
            for (int l : labels) {
                out.writeInt(l);
            }
            out.writeDouble(target);
            int size = 13 + ids.length * idBytes + (segments ? ids.length : 0) + (wordStarts != null ? 4 + 4 * ids.length : 0)
                    + 4 + labels.length * 4 + 8;
            maxRecord = Math.max(maxRecord, size);
            position += size;
        }

        int rows() {
            return rows;
        }

        /** Writes the index, labels and header, and forces the file to disk. */
        void finish() throws IOException {
            long indexAt = position;
            for (int i = 0; i < rows; i++) {
                out.writeLong(offsets[i]);
            }
            for (int i = 0; i < rows; i++) {
                out.writeChar(lengths[i]);
            }
            long labelsAt = indexAt + rows * 10L;
            out.writeInt(labelNames.size());
            long size = labelsAt + 4;
            for (String name : labelNames) {
                byte[] b = name.getBytes(StandardCharsets.UTF_8);
                out.writeInt(b.length);
                out.write(b);
                size += 4 + b.length;
            }
            out.close();
            ByteBuffer h = ByteBuffer.allocate(HEADER);
            h.putInt(MAGIC).putInt(VERSION).putInt(rows).putInt(idBytes).putInt(maxRecord).putLong(indexAt).putLong(labelsAt)
                    .putLong(36, 0).putLong(44, size).put(52, key);
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.WRITE)) {
                ch.write(h.rewind(), 0);
                ch.force(true);
            }
        }

        @Override
        public void close() throws IOException {
            out.close();
        }
    }
}

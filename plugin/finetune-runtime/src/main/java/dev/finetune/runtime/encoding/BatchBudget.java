package dev.finetune.runtime.encoding;

/**
 * How many rows one inference batch may take: at most {@code tokens} padded tokens (rows × the batch's longest row)
 * and at most {@code rows} rows. A budget of tokens rather than a count of rows keeps batches of short texts large
 * (where each run's fixed cost dominates) and batches of long texts small (where memory and attention grow). A row
 * longer than the budget by itself still forms a batch of its own.
 */
public record BatchBudget(long tokens, int rows) {
    public BatchBudget {
        if (tokens < 1 || rows < 1) {
            throw new IllegalArgumentException("a batch budget needs at least one token and one row, not " + tokens
                    + " tokens and " + rows + " rows");
        }
    }

    /**
     * Full-length rows an automatic budget holds: {@code AUTO_ROWS × maxSequenceLength} tokens. Measured on BERT-base
     * (bfloat16, 2 shared cores; README, issue 18, {@code src/bench/InferenceBatchBench.java}): on 54-token reviews
     * batches of about 32 rows ran 1.0–1.07× as fast as 16, batches of 64 0.92–1.1× (loaded and idle cores), of 128
     * slower.
     */
    public static final int AUTO_ROWS = 32;
    /**
     * The most rows of a batch cut by tokens, however short they are. On 11-token texts 64 rows ran 1.25–1.5× as fast
     * as 16 and 128 slower again, until serving packed its weights for AMX ({@code PackedDense}): since then, in
     * bfloat16, 128 rows run 1.13× and 256 rows 1.17× as fast as 64, while in float32 128 rows run as fast as 64
     * (1.01×) and 256 rows slower (0.96×). (InferenceBatchBench, the benchmark's fine-tuned BERT-base, 1,000 package
     * descriptions, 2 cores, three rounds in one JVM; README, issue 18.)
     */
    public static final int AUTO_MAX_ROWS = 128;

    /** The automatic budget for texts of at most {@code maxSequenceLength} tokens. */
    public static BatchBudget auto(int maxSequenceLength) {
        return tokens((long) AUTO_ROWS * maxSequenceLength);
    }

    /** At most {@code tokens} padded tokens a batch, and at most {@link #AUTO_MAX_ROWS} rows. */
    public static BatchBudget tokens(long tokens) {
        return new BatchBudget(tokens, AUTO_MAX_ROWS);
    }

    /**
     * The most rows one batch can take (a row has a token at least): what a reader that holds rows back to sort them
     * by length should hold a multiple of, so that even batches of the shortest rows come out full.
     */
    public int largestBatch() {
        return (int) Math.min(rows, tokens);
    }

    /** Batches of {@code n} rows, however long: batching by row count. */
    public static BatchBudget rows(int n) {
        return new BatchBudget(Long.MAX_VALUE, n);
    }

    /** Whether a batch of {@code rows} rows padded to {@code longest} tokens fits. */
    boolean fits(int rows, int longest) {
        return rows <= this.rows && (long) rows * longest <= tokens;
    }
}

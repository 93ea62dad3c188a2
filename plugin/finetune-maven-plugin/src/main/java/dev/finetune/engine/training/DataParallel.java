package dev.finetune.engine.training;

/**
 * How many workers train one model together, each on its share of every step's batch, and how long a collective waits
 * for the others (seconds; the first meeting, while workers still load, waits {@code startTimeoutSeconds}).
 */
public record DataParallel(int workers, float timeoutSeconds, float startTimeoutSeconds) {
    /** One process: the graph has no collectives at all. */
    public static final DataParallel NONE = new DataParallel(1, 0, 0);

    public boolean distributed() {
        return workers > 1;
    }
}

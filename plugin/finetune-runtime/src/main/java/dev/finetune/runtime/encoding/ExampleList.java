package dev.finetune.runtime.encoding;

import java.util.List;
import java.util.RandomAccess;

/**
 * Encoded examples that need not all be in memory (a file of millions of rows is read row by row from disk): a list
 * that tells each example's length without decoding it, so that {@link Batches} can order and group examples by
 * length from an index alone and decode only the rows of the batch being built.
 */
public interface ExampleList extends List<EncodedExample>, RandomAccess {
    /** The number of ids of example {@code index}: {@code get(index).ids().length}. */
    int length(int index);

    /** The length of example {@code index} of any list: from the index when it has one, else from the example. */
    static int length(List<EncodedExample> examples, int index) {
        return examples instanceof ExampleList list ? list.length(index) : examples.get(index).ids().length;
    }
}

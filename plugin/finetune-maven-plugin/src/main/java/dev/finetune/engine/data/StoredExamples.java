package dev.finetune.engine.data;

import dev.finetune.runtime.encoding.EncodedExample;
import dev.finetune.runtime.encoding.ExampleList;
import java.util.AbstractList;
import java.util.function.Function;

/**
 * Some rows of an {@link ExampleFile} (a training or validation part, in file order) as encoded examples, each decoded
 * from the file when asked for and labelled by {@code labelled} (the raw labels mapped to the run's label indices).
 * Holds four bytes a row.
 */
public final class StoredExamples extends AbstractList<EncodedExample> implements ExampleList {
    private final ExampleFile file;
    private final int[] rows;
    private final Function<ExampleFile.Row, EncodedExample> labelled;

    public StoredExamples(ExampleFile file, int[] rows, Function<ExampleFile.Row, EncodedExample> labelled) {
        this.file = file;
        this.rows = rows;
        this.labelled = labelled;
    }

    @Override
    public EncodedExample get(int index) {
        return labelled.apply(file.row(rows[index]));
    }

    @Override
    public int length(int index) {
        return file.length(rows[index]);
    }

    @Override
    public int size() {
        return rows.length;
    }
}

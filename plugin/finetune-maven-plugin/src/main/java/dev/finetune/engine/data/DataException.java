package dev.finetune.engine.data;

import dev.finetune.runtime.FineTuneException;
import java.nio.file.Path;

/** Bad training or evaluation data; the message names the file, the line and (where known) the column. */
public class DataException extends FineTuneException {
    public DataException(String message) {
        super(message);
    }

    public static DataException at(Path file, long line, String column, String problem) {
        return new DataException(file + ", line " + line + (column == null ? "" : ", column '" + column + "'") + ": " + problem);
    }
}

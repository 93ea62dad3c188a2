package dev.finetune.engine.model;

import dev.finetune.engine.FineTuneException;

/** The base model cannot be found, read or used as an encoder. */
public class ModelException extends FineTuneException {
    public ModelException(String message) {
        super(message);
    }

    public ModelException(String message, Throwable cause) {
        super(message, cause);
    }
}

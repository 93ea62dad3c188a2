package dev.finetune.runtime.model;

import dev.finetune.runtime.FineTuneException;

/** The base model cannot be found, read or used as an encoder. */
public class ModelException extends FineTuneException {
    public ModelException(String message) {
        super(message);
    }

    public ModelException(String message, Throwable cause) {
        super(message, cause);
    }
}

package dev.finetune.runtime;

/**
 * A problem the user can act on: bad data, a model that does not fit, a configuration error.
 * The message is one or more sentences that name what is wrong and where; callers show it as is.
 */
public class FineTuneException extends RuntimeException {
    public FineTuneException(String message) {
        super(message);
    }

    public FineTuneException(String message, Throwable cause) {
        super(message, cause);
    }
}

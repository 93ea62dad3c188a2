package dev.finetune.engine.distributed;

import dev.finetune.runtime.FineTuneException;

/** Another worker of the cluster died, hung or cannot be reached: training stopped on this one too. */
public final class WorkerLostException extends FineTuneException {
    public WorkerLostException(String message) {
        super(message);
    }

    public WorkerLostException(String message, Throwable cause) {
        super(message, cause);
    }
}

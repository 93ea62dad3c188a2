package dev.finetune.engine.training;

/** Where the engine reports progress: the Maven log in the plugin, anything in a test. */
public interface ProgressListener {
    void info(String message);

    default void warn(String message) {
        info("WARNING: " + message);
    }

    ProgressListener SILENT = message -> { };
}

package dev.finetune.maven;

import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.ModelCache;
import java.io.File;
import java.nio.file.Path;
import java.util.List;
import org.apache.maven.plugin.AbstractMojo;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;

/**
 * Empties the shared cache of unpacked model archives: the base models {@code train} and {@code tune} unpacked and the
 * packed models applications unpacked through {@code TextClassifier}, with what interrupted unpacks left. The next
 * build unpacks what it needs again. Run it while no build or application uses the cache. Needs no project:
 * {@code mvn dev.finetune:finetune-maven-plugin:clean-cache}, or {@code mvn finetune:clean-cache} in a project that
 * declares the plugin.
 */
@Mojo(name = "clean-cache", requiresProject = false, threadSafe = true)
public class CleanCacheMojo extends AbstractMojo {
    /** The cache to empty: as for {@code train}, by default {@code FINETUNE_CACHE}, else {@code ~/.cache/finetune/models}. */
    @Parameter(property = "finetune.cache")
    File cacheDirectory;

    /** Skip this goal; {@code -Dfinetune.skip} skips every goal of the plugin. */
    @Parameter(property = "finetune.skip", defaultValue = "false")
    boolean skip;

    @Override
    public void execute() throws MojoExecutionException {
        Path root = cacheDirectory != null ? cacheDirectory.toPath() : ModelCache.defaultRoot();
        if (skip) {
            getLog().info("Skipping clean-cache (finetune.skip).");
            return;
        }
        try {
            List<ModelCache.Entry> removed = ModelCache.clean(root);
            long bytes = removed.stream().mapToLong(ModelCache.Entry::bytes).sum();
            for (ModelCache.Entry e : removed) {
                getLog().info("Deleted " + e.folder().getFileName() + (e.partial() ? " (an interrupted unpack)" : "")
                        + ", " + megabytes(e.bytes()));
            }
            getLog().info(removed.isEmpty() ? "The model cache " + root + " holds no unpacked model."
                    : "Emptied the model cache " + root + ": " + removed.size() + " folder(s), " + megabytes(bytes) + ".");
        } catch (FineTuneException e) {
            throw new MojoExecutionException(e.getMessage(), e);
        }
    }

    private static String megabytes(long bytes) {
        return String.format(java.util.Locale.ROOT, "%.1f MB", bytes / 1e6);
    }
}

package dev.finetune.maven;

import dev.finetune.engine.tuning.SearchSpace;
import dev.finetune.engine.tuning.Tuner;
import java.util.List;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;

/**
 * Searches hyperparameters: runs {@code train} once per trial with values drawn from the lists below (every other
 * setting as for {@code train}), ranks the trials by validation {@code bestModelMetric}, writes
 * {@code target/finetune/leaderboard.json}, exports the best trial as if {@code train} had run with its values, and
 * prints those values as a pom snippet. Finished trials are up to date when the search runs again.
 *
 * <pre>{@code
 * <configuration>
 *   <tuneLearningRates><tuneLearningRate>2e-5</tuneLearningRate><tuneLearningRate>5e-5</tuneLearningRate></tuneLearningRates>
 *   <tuneEpochs><tuneEpoch>2</tuneEpoch><tuneEpoch>4</tuneEpoch></tuneEpochs>
 *   <tuneTrials>4</tuneTrials>
 * </configuration>
 * }</pre>
 */
@Mojo(name = "tune", threadSafe = true)
public class TuneMojo extends TrainMojo {
    /** {@code grid} (every combination, in order) or {@code random} (seeded draws without repetition). */
    @Parameter(property = "finetune.tuneStrategy", defaultValue = "random")
    String tuneStrategy;

    /** The trial budget: at most this many trainings. */
    @Parameter(property = "finetune.tuneTrials", defaultValue = "8")
    int tuneTrials;

    /** Learning rates to try (none: the train setting). */
    @Parameter
    List<Double> tuneLearningRates;

    /** Epoch counts to try. */
    @Parameter
    List<Integer> tuneEpochs;

    /** Batch sizes to try. */
    @Parameter
    List<Integer> tuneBatchSizes;

    /** Warm-up ratios to try. */
    @Parameter
    List<Double> tuneWarmupRatios;

    /** Dropout rates to try. */
    @Parameter
    List<Double> tuneDropouts;

    /** Head layer sizes to try, each as {@code headLayers} takes it: {@code <tuneHeadLayer>none</tuneHeadLayer><tuneHeadLayer>64,32</tuneHeadLayer>}. */
    @Parameter
    List<String> tuneHeadLayers;

    /** Class weights to try, each as {@code -Dfinetune.classWeights} takes it: {@code none}, {@code auto}, {@code spam=3.0,ham=1}. */
    @Parameter
    List<String> tuneClassWeights;

    /** Label smoothing values to try. */
    @Parameter
    List<Double> tuneLabelSmoothings;

    @Override
    String goal() {
        return "tuning";
    }

    @Override
    void run() throws MojoExecutionException {
        SearchSpace space = new SearchSpace(tuneLearningRates, tuneEpochs, tuneBatchSizes, tuneWarmupRatios, tuneDropouts,
                tuneHeadLayers, tuneClassWeights, tuneLabelSmoothings);
        Tuner.tune(config(), space, tuneStrategy, tuneTrials, seed, progress());
    }
}

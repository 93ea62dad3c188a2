package dev.finetune.engine.tuning;

import dev.finetune.engine.FineTuneEngine;
import dev.finetune.engine.TrainingResult;
import dev.finetune.engine.config.ClassWeights;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.export.AtomicDirectory;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.engine.training.TrainingHistory;
import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.Json;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.commons.io.FileUtils;

/**
 * A small hyperparameter search: each trial is a whole {@code train} run (into its own folder under the work
 * directory, so that finished trials are up to date when the search runs again), ranked by the chosen validation
 * metric. The best trial's output is copied to the output directory as if {@code train} had run with its values,
 * next to a leaderboard of all trials.
 */
public final class Tuner {
    public static final String LEADERBOARD = "leaderboard.json";

    private Tuner() {
    }

    /** One finished trial and its score (best validation of the chosen metric). */
    public record Entry(int rank, int trial, Map<String, Object> values, double score, double validationLoss,
                        double validationAccuracy, long steps, double seconds) {
    }

    public record Result(List<Entry> leaderboard, Entry best, String pomSnippet) {
    }

    public static Result tune(FineTuneConfig base, SearchSpace space, String strategy, int budget, long seed, ProgressListener log) {
        if (budget < 1) {
            throw new FineTuneException("tuneTrials must be at least 1, not " + budget + ".");
        }
        if (!strategy.equals("grid") && !strategy.equals("random")) {
            throw new FineTuneException("tuneStrategy '" + strategy + "' is unknown: use grid or random.");
        }
        List<SearchSpace.Trial> trials = strategy.equals("grid") ? space.grid(budget) : space.random(budget, seed);
        Path work = base.workDirectory != null ? base.workDirectory : base.outputDirectory.resolveSibling("finetune-work");
        boolean accuracy = base.bestModelMetric.equals("accuracy");
        log.info(String.format("Tuning: %d of %d combinations (%s search), ranked by validation %s.", trials.size(), space.size(),
                strategy, base.bestModelMetric));
        List<Entry> entries = new ArrayList<>();
        for (int i = 0; i < trials.size(); i++) {
            SearchSpace.Trial t = trials.get(i);
            FineTuneConfig c = t.trial(base, work.resolve("tune").resolve("trial-" + (i + 1)));
            log.info("Trial " + (i + 1) + "/" + trials.size() + ": " + t.values());
            long started = System.nanoTime();
            TrainingResult r = FineTuneEngine.train(c, message -> log.info("  " + message));
            TrainingHistory h = r.history();
            TrainingHistory.Validation chosen = h.validations.stream().filter(v -> v.step() == h.exportedStep).findFirst()
                    .orElse(h.validations.get(h.validations.size() - 1));
            double score = accuracy ? chosen.accuracy() : chosen.loss();
            entries.add(new Entry(0, i + 1, t.values(), score, chosen.loss(), chosen.accuracy(), h.exportedStep,
                    (System.nanoTime() - started) / 1e9));
        }
        Comparator<Entry> order = Comparator.comparingDouble(Entry::score);
        entries.sort(accuracy ? order.reversed() : order);
        List<Entry> ranked = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i);
            ranked.add(new Entry(i + 1, e.trial(), e.values(), e.score(), e.validationLoss(), e.validationAccuracy(), e.steps(), e.seconds()));
        }
        Entry best = ranked.get(0);
        String snippet = pomSnippet(best.values());
        Path bestOutput = work.resolve("tune").resolve("trial-" + best.trial()).resolve("finetune");
        AtomicDirectory.write(base.outputDirectory, dir -> {
            FileUtils.copyDirectory(bestOutput.toFile(), dir.toFile());
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("strategy", strategy);
            doc.put("metric", "validation " + base.bestModelMetric);
            doc.put("combinations", space.size());
            doc.put("trials", ranked);
            doc.put("best", best);
            doc.put("pomSnippet", snippet);
            Json.write(dir.resolve(LEADERBOARD), doc);
        });
        log.info(String.format("Best trial %d (validation %s %.4f) exported to %s. Its settings, for the pom:%n%s", best.trial(),
                base.bestModelMetric, best.score(), base.outputDirectory, snippet));
        return new Result(ranked, best, snippet);
    }

    static String pomSnippet(Map<String, Object> values) {
        StringBuilder b = new StringBuilder();
        values.forEach((k, v) -> b.append("<").append(k).append(">").append(format(k, v)).append("</").append(k).append(">\n"));
        return b.toString().trim();
    }

    /** A value as the pom writes it: weights per label as one element per label, as the pom's own form. */
    private static String format(String key, Object v) {
        if (key.equals("classWeights") && !ClassWeights.isNone((String) v) && !ClassWeights.isAuto((String) v)) {
            StringBuilder b = new StringBuilder();
            ClassWeights.perLabel((String) v).forEach((label, w) -> b.append("<").append(label).append(">").append(format(w))
                    .append("</").append(label).append(">"));
            return b.toString();
        }
        return format(v);
    }

    private static String format(Object v) {
        if (v instanceof Double d) {
            return d == Math.rint(d) && Math.abs(d) < 1e6 ? String.format(Locale.ROOT, "%.1f", d) : String.valueOf(d);
        }
        return String.valueOf(v);
    }
}

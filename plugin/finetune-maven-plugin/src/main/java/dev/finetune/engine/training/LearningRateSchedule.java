package dev.finetune.engine.training;

/** Linear warm-up to the base rate, then linear or cosine decay to zero over the remaining steps (or constant). */
public record LearningRateSchedule(double baseRate, long totalSteps, long warmupSteps, String decay) {

    public static LearningRateSchedule of(double baseRate, long totalSteps, double warmupRatio, String decay) {
        return new LearningRateSchedule(baseRate, totalSteps, (long) Math.ceil(warmupRatio * totalSteps), decay);
    }

    /** The rate for the optimizer step with 0-based index {@code step}. */
    public double rate(long step) {
        if (step < warmupSteps) {
            return baseRate * (step + 1) / warmupSteps;
        }
        double span = Math.max(1, totalSteps - warmupSteps);
        double progress = Math.min(1.0, (step - warmupSteps) / span);
        switch (decay) {
            case "constant":
                return baseRate;
            case "cosine":
                return baseRate * 0.5 * (1 + Math.cos(Math.PI * progress));
            default:
                return baseRate * (1 - progress);
        }
    }
}

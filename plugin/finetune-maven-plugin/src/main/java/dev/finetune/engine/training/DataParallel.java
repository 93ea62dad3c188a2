package dev.finetune.engine.training;

import java.util.List;

/**
 * How many workers train one model together, each on its share of every step's batch, and how long a collective waits
 * for the others (seconds; the first meeting, while workers still load, waits {@code startTimeoutSeconds}); and the
 * devices each worker splits its share over, one replica per device (TensorFlow device names such as
 * {@code /device:GPU:1}; empty: one replica, placed by TensorFlow).
 */
public record DataParallel(int workers, float timeoutSeconds, float startTimeoutSeconds, List<String> devices) {
    /** One process on one device: the graph has no collectives and no replicas at all. */
    public static final DataParallel NONE = new DataParallel(1, 0, 0);

    public DataParallel(int workers, float timeoutSeconds, float startTimeoutSeconds) {
        this(workers, timeoutSeconds, startTimeoutSeconds, List.of());
    }

    public DataParallel {
        devices = List.copyOf(devices);
    }

    /** These settings with one replica on each of {@code tensorFlowDevices} (fewer than two: one replica). */
    public DataParallel onDevices(List<String> tensorFlowDevices) {
        return new DataParallel(workers, timeoutSeconds, startTimeoutSeconds, tensorFlowDevices.size() > 1 ? tensorFlowDevices : List.of());
    }

    public boolean distributed() {
        return workers > 1;
    }

    /** Whether each step's share of this worker is split over several replicas in the one graph. */
    public boolean replicated() {
        return devices.size() > 1;
    }

    public int replicas() {
        return Math.max(1, devices.size());
    }
}

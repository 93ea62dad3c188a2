package dev.finetune.runtime.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GraphOptions;
import org.tensorflow.proto.OptimizerOptions;
import org.tensorflow.proto.RewriterConfig;

/**
 * How the TensorFlow session runs: device, thread pools, numeric precision and XLA.
 *
 * <p>{@code precision}: {@code float32}; {@code bfloat16}, TensorFlow's oneDNN auto mixed precision (Grappler casts
 * matmuls and their neighbours to bfloat16 while the variables, the optimizer and the loss stay float32); or
 * {@code auto}, which is bfloat16 on a CPU that multiplies bfloat16 natively (AVX512-BF16 or AMX) and float32
 * elsewhere. Without native support bfloat16 is emulated and slower than float32.
 *
 * <p>{@code cpuDevices}: how many logical CPU devices the session has ({@code device_count}; 0: TensorFlow's one), for
 * a training step replicated over CPU devices. They share one intra-op thread pool (TensorFlow's CPU devices all use
 * the process-wide Eigen pool), so {@code intraOpThreads} stays the process's total and needs no splitting.
 */
public record SessionSettings(String device, int intraOpThreads, int interOpThreads, String precision, boolean xla, int cpuDevices) {

    public SessionSettings(String device, int intraOpThreads, int interOpThreads, String precision, boolean xla) {
        this(device, intraOpThreads, interOpThreads, precision, xla, 0);
    }

    /** These settings with {@code n} logical CPU devices (0 or 1: TensorFlow's one). */
    public SessionSettings withCpuDevices(int n) {
        return new SessionSettings(device, intraOpThreads, interOpThreads, precision, xla, n);
    }

    /** Float32, TensorFlow's own thread pools, no XLA. */
    public static SessionSettings defaults(String device) {
        return new SessionSettings(device, 0, 0, "float32", false);
    }

    /** A problem with the precision setting, or null. */
    public static String precisionProblem(String precision) {
        if (precision == null || precision.equals("auto") || precision.equals("float32") || precision.equals("bfloat16")) {
            return null;
        }
        return "precision '" + precision + "' is unknown: use auto, float32 or bfloat16.";
    }

    /** The precision this session will really use ({@code auto} resolved). */
    public String effectivePrecision() {
        if (precision == null || precision.equals("auto")) {
            return cpuOnly() && cpuHasNativeBfloat16() ? "bfloat16" : "float32";
        }
        return precision;
    }

    /** Whether the session computes on the CPU alone: device {@code cpu}, or no GPU visible to TensorFlow. */
    public boolean cpuOnly() {
        return "cpu".equals(device) || Devices.visibleGpus() == 0;
    }

    /**
     * These settings with {@code auto} precision decided: callers that ask for the precision, the config and the log
     * line resolve once, since deciding probes the CPU flags and TensorFlow's GPUs.
     */
    public SessionSettings resolved() {
        return new SessionSettings(device, intraOpThreads, interOpThreads, effectivePrecision(), xla, cpuDevices);
    }

    /** The session's ConfigProto. */
    public ConfigProto config() {
        ConfigProto.Builder config = Devices.configure(ConfigProto.newBuilder().setAllowSoftPlacement(true), device);
        if (cpuDevices > 1) {
            config.putDeviceCount("CPU", cpuDevices);
        }
        if (intraOpThreads > 0) {
            config.setIntraOpParallelismThreads(intraOpThreads);
        }
        if (interOpThreads > 0) {
            config.setInterOpParallelismThreads(interOpThreads);
        }
        GraphOptions.Builder graph = GraphOptions.newBuilder();
        if (effectivePrecision().equals("bfloat16")) {
            graph.setRewriteOptions(RewriterConfig.newBuilder().setAutoMixedPrecisionOnednnBfloat16(RewriterConfig.Toggle.ON));
        }
        if (xla) {
            graph.setOptimizerOptions(OptimizerOptions.newBuilder().setGlobalJitLevel(OptimizerOptions.GlobalJitLevel.ON_1)
                    .setCpuGlobalJit(true));
        }
        return config.setGraphOptions(graph).build();
    }

    /** One line for the log: what the session really uses. */
    public String describe() {
        return "precision " + effectivePrecision() + (xla ? ", XLA on" : "")
                + (intraOpThreads > 0 ? ", " + intraOpThreads + " intra-op threads" : "")
                + (interOpThreads > 0 ? ", " + interOpThreads + " inter-op threads" : "");
    }

    /** Whether this CPU has bfloat16 dot products (AVX512-BF16 or AMX), read from /proc/cpuinfo (Linux only). */
    public static boolean cpuHasNativeBfloat16() {
        Path cpuinfo = Path.of("/proc/cpuinfo");
        if (!Files.isReadable(cpuinfo)) {
            return false;
        }
        try (var lines = Files.lines(cpuinfo)) {
            return lines.filter(l -> l.toLowerCase(Locale.ROOT).startsWith("flags")).findFirst()
                    .map(l -> l.contains(" avx512_bf16") || l.contains(" amx_bf16")).orElse(false);
        } catch (IOException | java.io.UncheckedIOException e) {
            return false;
        }
    }
}

package dev.finetune.engine.model;

import dev.finetune.runtime.model.LoadedGraph;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;
import org.tensorflow.TensorFlow;
import org.tensorflow.proto.OpDef;
import org.tensorflow.proto.OpList;

/**
 * This plugin's own TensorFlow kernels for training ({@code src/main/c/finetune_kernels.c}), loaded once per JVM.
 *
 * <p>The build compiles them on Linux x86-64 into the jar; TensorFlow loads them from a copy in a temporary file (a
 * shared library cannot be mapped from inside a jar), deleted once loaded. Where the jar has none for the platform, or
 * the library does not load, or {@link LoadedGraph#FUSING} is {@code false}, training uses TensorFlow's own ops for
 * the same values ({@link #unavailable} says why); nothing else changes, and no exported model ever names these ops.
 *
 * <p>As it loads, the library puts its ops on TensorFlow's mixed-precision infer list, which TensorFlow reads from the
 * environment ({@code TF_AUTO_MIXED_PRECISION_GRAPH_REWRITE_INFERLIST_ADD}; a value already set is kept and added to).
 * Changing the environment is not safe while another thread reads it, so {@code FineTuneEngine.train} loads the
 * library first, before any graph of the run; what stays is another plugin's TensorFlow running in a parallel build
 * ({@code mvn -T}) at that moment.
 */
public final class TrainingKernels {
    /** The op computing a GELU, tanh or exact, and its derivative in one pass ({@link GeluRewrite}). */
    public static final String GELU = "FinetuneGelu";
    /** Adam on a float32 weight that also writes its bfloat16 copy ({@code WeightCopies}). */
    public static final String ADAM = "FinetuneAdam";
    /** The sum of a tensor's squares, in float32 from float32 or bfloat16 (global-norm clipping with weight copies). */
    public static final String SQUARED_NORM = "FinetuneSquaredNorm";
    private static final java.util.List<String> OPS = java.util.List.of(GELU, ADAM, SQUARED_NORM);

    private static final String LIBRARY = "libfinetune_kernels.so";
    private static String unavailable;
    private static boolean loaded;

    private TrainingKernels() {
    }

    /** Whether the kernels ({@link #GELU}, {@link #ADAM}, {@link #SQUARED_NORM}) can run in this JVM (loading the library on the first call). */
    public static synchronized boolean available() {
        if (!LoadedGraph.fusing()) {
            return false;
        }
        if (!loaded && unavailable == null) {
            unavailable = load();
            loaded = unavailable == null;
        }
        return loaded;
    }

    /**
     * The threads each kernel may use: the session's intra-op threads when set, else the CPUs this JVM may use (its
     * container's share, as the JDK counts them) shared among {@code cpuReplicas} replicas that run side by side.
     */
    public static int threads(int intraOpThreads, int cpuReplicas) {
        return intraOpThreads > 0 ? intraOpThreads : Math.max(1, Runtime.getRuntime().availableProcessors() / Math.max(1, cpuReplicas));
    }

    /** Why the kernels are not used, or null when they are. */
    public static synchronized String unavailable() {
        return available() ? null : LoadedGraph.fusing() ? unavailable : LoadedGraph.FUSING + " is false";
    }

    private static String load() {
        String platform = platform();
        String resource = "/dev/finetune/engine/kernels/" + platform + "/" + LIBRARY;
        try (InputStream in = TrainingKernels.class.getResourceAsStream(resource)) {
            // Another class loader of this JVM (a second plugin realm) may have loaded it: TensorFlow keeps one registry,
            // and a second copy would register the kernels twice.
            java.util.Set<String> registered = names(TensorFlow.registeredOpList());
            if (registered.containsAll(OPS)) {
                return null;
            }
            if (OPS.stream().anyMatch(registered::contains)) {
                // An older plugin in this JVM loaded its own library: loading ours too would register its kernels twice.
                return "another version of the kernel library is loaded in this JVM, with only "
                        + OPS.stream().filter(registered::contains).toList();
            }
            if (in == null) {
                return "this plugin was built without kernels for " + platform;
            }
            Path copy = Files.createTempFile("finetune-kernels-", ".so");
            try {
                Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
                return names(TensorFlow.loadLibrary(copy.toString())).containsAll(OPS) ? null : "the kernel library did not register all of " + OPS;
            } finally {
                // The loaded library stays mapped; the file is not needed any more.
                Files.deleteIfExists(copy);
            }
        } catch (IOException | RuntimeException | UnsatisfiedLinkError e) {
            // A kernel only makes training faster: whatever stops it loading, training goes on without it.
            return "the kernel library did not load: " + e.getMessage();
        }
    }

    private static java.util.Set<String> names(OpList ops) {
        return ops.getOpList().stream().map(OpDef::getName).collect(java.util.stream.Collectors.toSet());
    }

    private static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        return (os.startsWith("linux") ? "linux" : os.replace(' ', '-')) + "-"
                + (arch.equals("amd64") || arch.equals("x86_64") ? "x86_64" : arch);
    }
}

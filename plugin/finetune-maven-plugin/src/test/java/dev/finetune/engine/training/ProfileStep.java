package dev.finetune.engine.training;

import dev.finetune.engine.model.EncoderGraph;
import dev.finetune.engine.model.ModelLocator;
import dev.finetune.engine.model.SignatureNames;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.model.SavedModelFile;
import dev.finetune.runtime.model.SessionSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.tensorflow.proto.NodeExecStats;
import org.tensorflow.proto.RunMetadata;

/**
 * Not a test: where the time of one training step goes, for {@code src/tools/profile-step.sh MODEL [batch] [length]}.
 * Runs a few warm-up steps, then one with TensorFlow's full trace, and prints op time summed by op type.
 */
public final class ProfileStep {
    private ProfileStep() {
    }

    public static void main(String[] args) throws Exception {
        Path model = ModelLocator.locate(Path.of(args[0]), Files.createTempDirectory("finetune-profile"));
        int rows = args.length > 1 ? Integer.parseInt(args[1]) : 16;
        int length = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        // -Dprecision=float32|bfloat16|auto -Dxla=true -DintraOp=N -DinterOp=N -Dsteps=N: the session levers to compare.
        SessionSettings settings = new SessionSettings("cpu", Integer.getInteger("intraOp", 0), Integer.getInteger("interOp", 0),
                System.getProperty("precision", "float32"), Boolean.getBoolean("xla"));
        int steps = Integer.getInteger("steps", 3);
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(model), SignatureNames.auto());
        // -DweightDecay=D -DmaxGradNorm=N: the update's extra work, to see what it costs in time and memory.
        double weightDecay = Double.parseDouble(System.getProperty("weightDecay", "0.01"));
        double maxGradNorm = Double.parseDouble(System.getProperty("maxGradNorm", "1.0"));
        // -DencoderDropout=R: dropout inside the encoder (EncoderDropout), to see what the training copy costs.
        double encoderDropout = Double.parseDouble(System.getProperty("encoderDropout", "0"));
        // -DlazyEmbeddings=true: lazy Adam on embedding tables (LazyEmbeddings).
        boolean lazyEmbeddings = Boolean.getBoolean("lazyEmbeddings");
        // -DweightCopies=false: no bfloat16 copies of the weights (WeightCopies), which bfloat16 on the plugin's kernels has.
        boolean weightCopies = settings.precision().equals("bfloat16") && dev.finetune.engine.model.TrainingKernels.available()
                && Boolean.parseBoolean(System.getProperty("weightCopies", "true"));
        try (ClassifierGraph g = new ClassifierGraph(enc, 2,
                new ClassifierGraph.Settings("pooled", 0.1, 1, 0.9, 0.999, 1e-6, weightDecay, maxGradNorm)
                        .withEncoderDropout(encoderDropout).withLazyEmbeddings(lazyEmbeddings)
                        .withWeightCopies(weightCopies));
             ClassifierSession s = new ClassifierSession(g, settings)) {
            System.out.println("session: " + settings.describe() + "; GELUs rewritten: "
                    + dev.finetune.engine.model.GeluRewrite.count(enc.graph()) + " ("
                    + (dev.finetune.engine.model.TrainingKernels.available() ? "the plugin's kernel" : "TensorFlow's ops: "
                    + dev.finetune.engine.model.TrainingKernels.unavailable()) + "); batched products as einsums: "
                    + dev.finetune.engine.model.BatchMatMulRewrite.count(enc.graph()) + "; fused layer norms: "
                    + dev.finetune.engine.model.LayerNormRewrite.count(enc.graph()) + "; lazy tables: " + g.lazyTables() + "; bfloat16 weight copies: " + g.weightCopies().size());
            System.out.println("resident after building the graph and session: " + residentMiB() + " MiB");
            s.initializeFromPretrained();
            System.out.println("resident after restoring the pretrained weights: " + residentMiB() + " MiB");
            Random r = new Random(1);
            int[] ids = new int[rows * length];
            int[] ones = new int[rows * length];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = 1000 + r.nextInt(20000);
                ones[i] = 1;
            }
            Batch batch = new Batch(rows, length, ids, ones, new int[ids.length], new int[rows]);
            double[] times = new double[steps];
            for (int step = 1; step <= steps; step++) {
                long t0 = System.nanoTime();
                var result = s.train(batch, 1e-5f, step, 0.9, 0.999);
                times[step - 1] = (System.nanoTime() - t0) / 1e9;
                System.out.printf("step %d: %.3f s  loss %.4f  resident %d MiB%n", step, times[step - 1], result.loss(), residentMiB());
            }
            if (steps > 2) {
                double[] warm = java.util.Arrays.copyOfRange(times, 1, steps);
                java.util.Arrays.sort(warm);
                System.out.printf("median after the first step: %.3f s%n", warm[warm.length / 2]);
            }
            // The weight decay runs apart from the step, every weightDecayInterval steps (WeightDecay): its own cost.
            double[] decay = new double[3];
            for (int i = 0; i < decay.length; i++) {
                long d0 = System.nanoTime();
                s.applyWeightDecay(1e-5f);
                decay[i] = (System.nanoTime() - d0) / 1e9;
            }
            java.util.Arrays.sort(decay);
            System.out.printf("weight decay, run on its own: %.3f s (after every step that would add it to each step)%n", decay[1]);
            long t0 = System.nanoTime();
            RunMetadata meta = s.traceStep(batch, 1e-5f, steps + 1, 0.9, 0.999);
            System.out.printf("traced step: %.3f s%n", (System.nanoTime() - t0) / 1e9);
            Map<String, long[]> byOp = tally(meta, n -> true, ProfileStep::opType, new HashMap<>());
            long total = byOp.values().stream().mapToLong(k -> k[0]).sum();
            System.out.printf("op time summed over ops (both cores overlap): %.3f s%n", total / 1e6);
            printCasts(meta);
            // -DopDetail=Mul: that op's time by where in the graph it runs (its name with layer numbers dropped).
            String detail = System.getProperty("opDetail");
            if (detail != null) {
                // A gradient's own name says little; its label names what it reads.
                Map<String, long[]> byPlace = tally(meta, n -> opType(n).equals(detail),
                        n -> (n.getNodeName().startsWith("gradients/") ? n.getTimelineLabel() : n.getNodeName())
                                .replaceAll("layer_\\d+", "layer_N").replaceAll("_\\d+\\b", ""), new java.util.TreeMap<>());
                byPlace.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0])).limit(40).forEach(e ->
                        System.out.printf("  %s at %-90s %8.1f ms %4d ops%n", detail, e.getKey(), e.getValue()[0] / 1e3, e.getValue()[1]));
            }
            // -DnameDetail=REGEX: op time of the ops whose name (or, for gradients, label) matches, by op type.
            String nameDetail = System.getProperty("nameDetail");
            if (nameDetail != null) {
                java.util.regex.Pattern pattern = java.util.regex.Pattern.compile(nameDetail);
                Map<String, long[]> byType = tally(meta,
                        n -> pattern.matcher(n.getNodeName()).find() || pattern.matcher(n.getTimelineLabel()).find(),
                        ProfileStep::opType, new java.util.TreeMap<>());
                long matched = byType.values().stream().mapToLong(k -> k[0]).sum();
                System.out.printf("ops matching %s: %.1f ms%n", nameDetail, matched / 1e3);
                byType.forEach((op, k) -> System.out.printf("  %-34s %8.1f ms %4d ops%n", op, k[0] / 1e3, k[1]));
            }
            final long sum = total;
            byOp.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0])).limit(25).forEach(e ->
                    System.out.printf("%-36s %8.1f ms %5.1f%%  %6d ops%n", e.getKey(), e.getValue()[0] / 1e3, 100.0 * e.getValue()[0] / sum, e.getValue()[1]));
        }
    }

    /**
     * What the mixed-precision rewrite's casts convert, by the name it gives them ({@code <producer>-<port>-CastToBf16-...}):
     * weights read from variables, other values cast to bfloat16, and results cast back to float32.
     */
    static void printCasts(RunMetadata meta) {
        Map<String, long[]> byKind = new java.util.TreeMap<>();
        for (var dev : meta.getStepStats().getDevStatsList()) {
            for (NodeExecStats n : dev.getNodeStatsList()) {
                String name = n.getNodeName();
                if (!name.contains("AutoMixedPrecision")) {
                    continue;
                }
                String kind = name.contains("CastToFp32") ? "to float32 (results, gradients)"
                        : name.contains("ReadVariableOp") || name.contains("/read") ? "to bfloat16: weights read from variables"
                        : "to bfloat16: other values (activations, gradients flowing back)";
                long bytes = n.getOutputList().stream().mapToLong(o -> o.getTensorDescription().getAllocationDescription().getRequestedBytes()).sum();
                long[] k = byKind.computeIfAbsent(kind, x -> new long[3]);
                k[0] += n.getAllEndRelMicros();
                k[1]++;
                k[2] += bytes;
            }
        }
        // The optimizer's share: everything built under its scopes (clipping, decay, Adam, the global norm).
        long optimizer = 0;
        long all = 0;
        for (var dev : meta.getStepStats().getDevStatsList()) {
            for (NodeExecStats n : dev.getNodeStatsList()) {
                all += n.getAllEndRelMicros();
                if (n.getNodeName().startsWith("finetune_adam") || n.getNodeName().startsWith("finetune_data_parallel")) {
                    optimizer += n.getAllEndRelMicros();
                }
            }
        }
        System.out.printf("optimizer side (norm, clipping, decay, Adam): %.1f ms, %.1f%% of op time%n", optimizer / 1e3, 100.0 * optimizer / all);
        byKind.forEach((kind, k) -> System.out.printf("casts %-62s %8.1f ms  %5d ops  %7.1f MiB written%n", kind, k[0] / 1e3, k[1], k[2] / 1048576.0));
        // Which ops' results are cast back to float32 (named <producer>-<port>-CastToFp32-...): the ops the rewrite
        // runs in bfloat16 whose readers it keeps in float32.
        Map<String, String> opOf = new java.util.HashMap<>();
        for (var dev : meta.getStepStats().getDevStatsList()) {
            for (NodeExecStats n : dev.getNodeStatsList()) {
                opOf.put(n.getNodeName(), opType(n));
            }
        }
        Map<String, long[]> byProducer = new java.util.TreeMap<>();
        for (var dev : meta.getStepStats().getDevStatsList()) {
            for (NodeExecStats n : dev.getNodeStatsList()) {
                String name = n.getNodeName();
                int at = name.indexOf("-CastToFp32");
                if (at < 0) {
                    continue;
                }
                String producer = name.substring(0, name.lastIndexOf('-', at - 1));
                String key = opOf.getOrDefault(producer, "?") + (producer.contains("gradients") ? " (backward)" : " (forward)");
                long[] k = byProducer.computeIfAbsent(key, x -> new long[3]);
                k[0] += n.getAllEndRelMicros();
                k[1]++;
                k[2] += n.getOutputList().stream().mapToLong(o -> o.getTensorDescription().getAllocationDescription().getRequestedBytes()).sum();
            }
        }
        byProducer.forEach((kind, k) -> System.out.printf("  to float32 from %-40s %8.1f ms  %5d ops  %7.1f MiB%n", kind, k[0] / 1e3, k[1], k[2] / 1048576.0));
    }

    /** Op time (microseconds) and count of the traced nodes {@code which} takes, added into {@code into} by {@code key}. */
    private static Map<String, long[]> tally(RunMetadata meta, java.util.function.Predicate<NodeExecStats> which,
            java.util.function.Function<NodeExecStats, String> key, Map<String, long[]> into) {
        for (var dev : meta.getStepStats().getDevStatsList()) {
            for (NodeExecStats n : dev.getNodeStatsList()) {
                if (which.test(n)) {
                    long[] k = into.computeIfAbsent(key.apply(n), x -> new long[2]);
                    k[0] += n.getAllEndRelMicros();
                    k[1]++;
                }
            }
        }
        return into;
    }

    /** The op type of a traced node, read from its timeline label ("name = Op(inputs)"); else the node's name. */
    public static String opType(NodeExecStats n) {
        String label = n.getTimelineLabel();
        return label.contains("= ") ? label.substring(label.indexOf("= ") + 2).split("\\(")[0] : n.getNodeName();
    }

    /** This process's resident memory (Linux), to see which phase takes it. */
    static long residentMiB() throws java.io.IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", "")) / 1024;
            }
        }
        return -1;
    }
}

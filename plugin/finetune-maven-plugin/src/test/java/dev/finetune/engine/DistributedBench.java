package dev.finetune.engine;

import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.training.TrainingHistory;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Not a test: one machine's cores as one worker with two threads against two workers with one thread each, for
 * {@code src/bench/distributed.sh [model] [global batch] [length] [epochs]}. Each run is its own JVM (so neither
 * inherits the other's warm caches); prints the median step time and examples per second of each, steps after the
 * first epoch only (the first steps build and optimise the graph).
 */
public final class DistributedBench {
    private DistributedBench() {
    }

    static FineTuneConfig config(Path root, String[] args) {
        FineTuneConfig c = TestFiles.tinyConfig(args.length > 0 ? args[0] : "tiny-bert-tf1", root);
        c.batchSize = args.length > 1 ? Integer.parseInt(args[1]) : 32;
        c.maxSequenceLength = args.length > 2 ? args[2] : "64";
        c.epochs = args.length > 3 ? Integer.parseInt(args[3]) : 6;
        c.dropout = 0;
        c.logEverySteps = 1000;
        c.validationSplit = 0.1;
        c.force = true;
        return c;
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--worker")) {
            worker(Arrays.copyOfRange(args, 1, args.length));
            return;
        }
        if (args.length > 0 && args[0].equals("--all-reduce")) {
            allReduce(Arrays.copyOfRange(args, 1, args.length));
            return;
        }
        Path tmp = Files.createTempDirectory("finetune-dist-bench");
        FineTuneConfig c = config(tmp, args);
        System.out.printf("model %s, global batch %d, %s tokens, %d epochs, %d cores%n", c.model.getFileName(), c.batchSize,
                c.maxSequenceLength, c.epochs, Runtime.getRuntime().availableProcessors());
        List<String> single = run(List.of(command(args, tmp.resolve("single"), "1", "0", "2")));
        String hosts;
        try (ServerSocket a = new ServerSocket(0); ServerSocket b = new ServerSocket(0)) {
            hosts = "127.0.0.1:" + a.getLocalPort() + ",127.0.0.1:" + b.getLocalPort();
        }
        List<String> two = run(List.of(command(args, tmp.resolve("w0"), hosts, "0", "1"), command(args, tmp.resolve("w1"), hosts, "1", "1")));
        System.out.println("| setup | median s/step | examples/s |");
        System.out.println("| --- | --- | --- |");
        System.out.println("| 1 worker × 2 intra-op threads | " + single.get(0));
        System.out.println("| 2 workers × 1 intra-op thread (127.0.0.1) | " + two.get(0));
    }

    /** {@code --worker <root> <hosts or 1> <index> <threads> [model batch length epochs]}: one run; prints RESULT. */
    private static void worker(String[] a) throws Exception {
        FineTuneConfig c = config(Path.of(a[0]), Arrays.copyOfRange(a, 4, a.length));
        c.intraOpThreads = Integer.parseInt(a[3]);
        c.interOpThreads = 1;
        if (a[1].contains(",")) {
            c.cluster = List.of(a[1].split(","));
            c.workerIndex = Integer.parseInt(a[2]);
            c.batchSize /= c.cluster.size();
            c.workerTimeout = 120;
        }
        TrainingHistory h = FineTuneEngine.train(c, m -> { }).history();
        int firstEpochSteps = (int) h.steps.stream().filter(s -> s.epoch() == 1).count();
        double[] seconds = h.steps.stream().skip(firstEpochSteps).mapToDouble(TrainingHistory.Step::seconds).sorted().toArray();
        double median = seconds[seconds.length / 2];
        double examples = h.steps.stream().skip(firstEpochSteps).mapToInt(TrainingHistory.Step::examples).average().orElse(0);
        System.out.printf("RESULT %.4f | %.0f |%n", median, examples / median);
        System.exit(0);
    }

    /**
     * {@code --all-reduce <floats> [<hosts> <index>]}: the all-reduce alone, between two worker JVMs on 127.0.0.1, of a
     * vector of {@code floats} (BERT-base's gradients are 110 M): median seconds over 10 runs after 2 warm-ups.
     */
    private static void allReduce(String[] a) throws Exception {
        int floats = Integer.parseInt(a[0]);
        if (a.length == 1) {
            String hosts;
            try (ServerSocket x = new ServerSocket(0); ServerSocket y = new ServerSocket(0)) {
                hosts = "127.0.0.1:" + x.getLocalPort() + ",127.0.0.1:" + y.getLocalPort();
            }
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            List<List<String>> cmds = new ArrayList<>();
            for (String index : List.of("0", "1")) {
                cmds.add(List.of(java, "-Xmx256m", "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0", "-cp", System.getProperty("java.class.path"), DistributedBench.class.getName(),
                        "--all-reduce", a[0], hosts, index));
            }
            List<String> r = run(cmds);
            System.out.printf("| %,d floats (%.0f MB) | %s%n", floats, floats * 4 / 1e6, r.get(0));
            return;
        }
        var cluster = dev.finetune.engine.distributed.ClusterSpec.resolve(List.of(a[1].split(",")), Integer.parseInt(a[2]), null);
        var worker = dev.finetune.engine.distributed.Worker.start(cluster,
                org.tensorflow.proto.ConfigProto.newBuilder().setIntraOpParallelismThreads(1).setInterOpParallelismThreads(1).build(), 120);
        try (org.tensorflow.Graph g = new org.tensorflow.Graph()) {
            var tf = org.tensorflow.op.Ops.create(g);
            var ones = tf.fill(tf.constant(new int[] {floats}), tf.constant(1f));
            var sum = dev.finetune.engine.distributed.AllReduce.sum(tf, ones, 2, 1, 120f);
            var total = tf.sum(sum, tf.constant(0));
            try (org.tensorflow.Session s = worker.openSession(g)) {
                double[] t = new double[12];
                for (int i = 0; i < t.length; i++) {
                    long t0 = System.nanoTime();
                    s.runner().fetch(total).setOptions(worker.runOptions(null)).run().close();
                    t[i] = (System.nanoTime() - t0) / 1e9;
                }
                double[] steady = Arrays.copyOfRange(t, 2, t.length);
                Arrays.sort(steady);
                double median = steady[steady.length / 2];
                System.out.printf("RESULT %.4f s | %.2f GB/s of the vector |%n", median, floats * 4 / 1e9 / median);
            }
        }
        System.exit(0);
    }

    private static List<String> command(String[] args, Path root, String hosts, String index, String threads) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx1g", "-cp", System.getProperty("java.class.path"),
                "-Dfinetune.shared.dir=" + TestFiles.shared().toAbsolutePath(), DistributedBench.class.getName(), "--worker",
                root.toString(), hosts, index, threads));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** Runs the commands at once and returns each one's RESULT line. */
    private static List<String> run(List<List<String>> commands) throws Exception {
        List<Process> ps = new ArrayList<>();
        for (List<String> cmd : commands) {
            ps.add(new ProcessBuilder(cmd).redirectErrorStream(true).start());
        }
        List<String> results = new ArrayList<>();
        for (Process p : ps) {
            String result = null;
            StringBuilder all = new StringBuilder();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                    all.append(line).append('\n');
                    if (line.startsWith("RESULT ")) {
                        result = line.substring("RESULT ".length());
                    }
                }
            }
            if (p.waitFor() != 0 || result == null) {
                throw new IllegalStateException("a run failed:\n" + all);
            }
            results.add(result);
        }
        return results;
    }
}

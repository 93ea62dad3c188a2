package dev.finetune.engine.distributed;

import dev.finetune.runtime.FineTuneException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.javacpp.BytePointer;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.internal.c_api.TF_Server;
import org.tensorflow.internal.c_api.TF_Status;
import org.tensorflow.internal.c_api.global.tensorflow;
import org.tensorflow.proto.ClusterDef;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.JobDef;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.proto.ServerDef;

/**
 * This process as one worker of a cluster: its TensorFlow gRPC server, the session configuration every worker shares,
 * and runs with a deadline. Collectives find each other through the servers; the step's own ops stay on this worker
 * (the session only sees this task's devices), so no tensor but the all-reduced ones crosses the network.
 */
public final class Worker {
    /** Every run with collectives carries this key, the same on every worker. */
    static final long COLLECTIVE_GRAPH_KEY = 1;
    /** A gRPC server cannot be stopped in TensorFlow 2.18 ("Clean shutdown is not currently implemented"): one per JVM and address. */
    private static final Map<String, Started> SERVERS = new HashMap<>();

    private record Started(ServerDef def, TF_Server server, String target) {
    }

    private final ClusterSpec cluster;
    private final ConfigProto config;
    private final String target;
    private final int timeoutSeconds;
    /** Runs with collectives go through a daemon thread, so a run stuck in TensorFlow cannot keep the build waiting. */
    private final ExecutorService runner = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "finetune-worker-step");
        t.setDaemon(true);
        return t;
    });
    private volatile boolean abandoned;

    private Worker(ClusterSpec cluster, ConfigProto config, String target, int timeoutSeconds) {
        this.cluster = cluster;
        this.config = config;
        this.target = target;
        this.timeoutSeconds = timeoutSeconds;
    }

    /** Starts (or reuses, within one JVM) this worker's server; {@code base} holds the threads and device settings. */
    public static Worker start(ClusterSpec cluster, ConfigProto base, int timeoutSeconds) {
        ConfigProto config = base.toBuilder()
                // The collective group's members are resolved by the chief's server.
                .setExperimental(base.getExperimental().toBuilder().setCollectiveGroupLeader(ClusterSpec.taskName(0)))
                // This worker's session places every op on its own devices, and does not wait for the others to list theirs.
                .clearDeviceFilters().addDeviceFilters(ClusterSpec.taskName(cluster.index()))
                .build();
        Map<Integer, String> tasks = new HashMap<>();
        for (int i = 0; i < cluster.workers().size(); i++) {
            tasks.put(i, cluster.workers().get(i));
        }
        ServerDef def = ServerDef.newBuilder()
                .setCluster(ClusterDef.newBuilder().addJob(JobDef.newBuilder().setName("worker").putAllTasks(tasks)))
                .setJobName("worker").setTaskIndex(cluster.index()).setProtocol("grpc")
                .setDefaultSessionConfig(config)
                .build();
        synchronized (SERVERS) {
            Started s = SERVERS.get(cluster.address());
            if (s != null && !s.def().equals(def)) {
                throw new FineTuneException("This JVM already runs a TensorFlow server on " + cluster.address() + " for another "
                        + "cluster or settings (" + s.def().getCluster().getJob(0).getTasksMap() + "); a server cannot be "
                        + "stopped, so use another port or another JVM.");
            }
            if (s == null) {
                s = startServer(def, cluster);
                SERVERS.put(cluster.address(), s);
            }
            return new Worker(cluster, config, s.target(), timeoutSeconds);
        }
    }

    private static Started startServer(ServerDef def, ClusterSpec cluster) {
        byte[] bytes = def.toByteArray();
        try (TF_Status status = TF_Status.newStatus()) {
            TF_Server server = tensorflow.TF_NewServer(new BytePointer(bytes), bytes.length, status);
            status.throwExceptionIfNotOK();
            tensorflow.TF_ServerStart(server, status);
            status.throwExceptionIfNotOK();
            return new Started(def, server, tensorflow.TF_ServerTarget(server).getString());
        } catch (TensorFlowException e) {
            throw new FineTuneException("Cannot start the TensorFlow server of " + cluster.describe(cluster.index()) + ": "
                    + firstLine(e.getMessage()) + " (is the port free, and the address this machine's?)", e);
        }
    }

    /** A session on this worker's server. */
    public Session openSession(Graph graph) {
        return RemoteSession.open(graph, config, target);
    }

    /** What every run with collectives must carry. */
    public RunOptions runOptions(RunOptions base) {
        RunOptions.Builder b = base == null ? RunOptions.newBuilder() : base.toBuilder();
        return b.setExperimental(b.getExperimental().toBuilder().setCollectiveGraphKey(COLLECTIVE_GRAPH_KEY)).build();
    }

    public ClusterSpec cluster() {
        return cluster;
    }

    public int timeoutSeconds() {
        return timeoutSeconds;
    }

    /** Workers may start minutes apart (loading and tokenizing): the first meeting waits twice the step timeout. */
    public int startTimeoutSeconds() {
        return 2 * timeoutSeconds;
    }

    /**
     * Runs {@code call} (a session run with collectives) and returns its result; when TensorFlow reports a lost or late
     * worker, or the run has not come back {@code seconds} (plus {@link #grace}) later, throws a {@link WorkerLostException}
     * that names the workers this one waited for. A run that never came back is left on its daemon thread and
     * {@link #abandoned()} turns true: its session and graph must not be closed (closing waits for the run).
     */
    public <T> T run(Supplier<T> call, int seconds, String what) {
        if (abandoned) {
            throw new WorkerLostException("An earlier step of " + cluster.describe(cluster.index()) + " never came back.");
        }
        Future<T> f = runner.submit(call::get);
        try {
            return f.get(seconds + grace(seconds), TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            abandoned = true;
            throw new WorkerLostException(lost(what, "no answer within " + (seconds + grace(seconds)) + " s", null));
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof TensorFlowException tf && looksLikeAPeer(tf.getMessage())) {
                throw new WorkerLostException(lost(what, firstLine(tf.getMessage()), tf.getMessage()), tf);
            }
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            throw new FineTuneException(what + " failed: " + cause, cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            abandoned = true;
            throw new FineTuneException(what + " was interrupted.", e);
        }
    }

    /**
     * How much longer than TensorFlow's collective timeout Java's own deadline waits: TensorFlow's should fire first,
     * but a worker whose chief is unreachable retries the step-id exchange with it for ever, outside any collective.
     */
    static int grace(int seconds) {
        return 5 + seconds / 10;
    }

    /** Whether a run was left behind: see {@link #run}. */
    public boolean abandoned() {
        return abandoned;
    }

    private static boolean looksLikeAPeer(String message) {
        return message != null && (message.contains("Collective") || message.contains("UNAVAILABLE") || message.contains("DEADLINE_EXCEEDED")
                || message.contains("failed to connect") || message.contains("Socket closed") || message.contains("/job:worker"));
    }

    /** "worker 0 (h:1) stopped training at step 12: worker 1 (h:2) did not take part ...". */
    private String lost(String what, String why, String detail) {
        Set<Integer> named = new LinkedHashSet<>();
        if (detail != null) {
            Matcher m = Pattern.compile("/job:worker/replica:0/task:(\\d+)").matcher(detail);
            while (m.find()) {
                int t = Integer.parseInt(m.group(1));
                if (t != cluster.index() && t < cluster.workers().size()) {
                    named.add(t);
                }
            }
        }
        if (named.isEmpty()) {
            for (int t = 0; t < cluster.workers().size(); t++) {
                if (t != cluster.index()) {
                    named.add(t);
                }
            }
        }
        List<String> names = new ArrayList<>();
        named.forEach(t -> names.add(cluster.describe(t)));
        return cluster.describe(cluster.index()) + " stopped at " + what + ": " + String.join(", ", names)
                + (names.size() == 1 ? " has" : " have") + " stopped or cannot be reached (" + why + "). Nothing half-written "
                + "is left; start every worker again with -Dfinetune.resume=true to continue from the chief's last checkpoint.";
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "no message";
        }
        String s = message.strip();
        // TensorFlow prefixes "From /job:worker/replica:0/task:0:" on a line of its own.
        String[] lines = s.split("\n");
        for (String line : lines) {
            if (!line.isBlank() && !line.startsWith("From /job:")) {
                return line.strip();
            }
        }
        return lines[0];
    }
}

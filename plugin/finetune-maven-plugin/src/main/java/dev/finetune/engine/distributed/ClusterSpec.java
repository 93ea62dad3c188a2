package dev.finetune.engine.distributed;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.Json;
import java.util.ArrayList;
import java.util.List;

/**
 * Which workers train together and which one this process is, resolved as TensorFlow resolves it: from the pom's
 * {@code <cluster>} list with {@code <workerIndex>}, else from the {@code TF_CONFIG} environment variable
 * ({@code {"cluster": {"worker": [...]}, "task": {"type": "worker", "index": N}}}; a {@code "chief"} job, as
 * MultiWorkerMirroredStrategy allows, becomes worker 0 and the workers follow it). Worker 0 is the chief.
 */
public record ClusterSpec(List<String> workers, int index) {
    /** One process alone: no server, no collectives. */
    public static final ClusterSpec SINGLE = new ClusterSpec(List.of(), 0);

    public ClusterSpec {
        workers = List.copyOf(workers);
    }

    /**
     * The cluster from the pom ({@code cluster}, {@code workerIndex}) or else from {@code tfConfig} (the value of
     * TF_CONFIG; null or blank: none); a {@code workerIndex} also overrides TF_CONFIG's index. Throws a
     * {@link FineTuneException} that says what is wrong.
     */
    public static ClusterSpec resolve(List<String> cluster, Integer workerIndex, String tfConfig) {
        List<String> workers = new ArrayList<>();
        Integer index = workerIndex;
        String source;
        if (cluster != null && !cluster.isEmpty()) {
            cluster.forEach(w -> workers.add(w == null ? "" : w.strip()));
            source = "<cluster>";
        } else if (tfConfig != null && !tfConfig.isBlank()) {
            source = "TF_CONFIG";
            int fromConfig = fromTfConfig(tfConfig, workers);
            index = index != null ? index : fromConfig;
        } else {
            if (workerIndex != null && workerIndex != 0) {
                throw new FineTuneException("workerIndex is " + workerIndex + " but no cluster is given: list the workers' "
                        + "host:port in <cluster>, or set TF_CONFIG.");
            }
            return SINGLE;
        }
        if (index == null) {
            throw new FineTuneException(source + " lists " + workers.size() + " workers but not which one this is: set "
                    + "<workerIndex> or -Dfinetune.workerIndex=N (0 is the chief).");
        }
        if (index < 0 || index >= workers.size()) {
            throw new FineTuneException("workerIndex " + index + " is out of range: " + source + " lists " + workers.size()
                    + " workers " + workers + ", so it must be 0 to " + (workers.size() - 1) + ".");
        }
        for (int i = 0; i < workers.size(); i++) {
            String problem = addressProblem(workers.get(i));
            if (problem != null) {
                throw new FineTuneException("Worker " + i + (i == index ? " (this one)" : "") + " in " + source + " has "
                        + problem + ": every worker needs host:port, the address its TensorFlow server listens on.");
            }
        }
        if (workers.stream().distinct().count() < workers.size()) {
            throw new FineTuneException(source + " names one address twice: " + workers + ".");
        }
        return workers.size() == 1 ? SINGLE : new ClusterSpec(workers, index);
    }

    /** Fills {@code workers} from TF_CONFIG's cluster and returns its task's index among them (null: no task). */
    private static Integer fromTfConfig(String tfConfig, List<String> workers) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(tfConfig);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new FineTuneException("TF_CONFIG is not valid JSON (" + e.getOriginalMessage() + "); expected "
                    + "{\"cluster\": {\"worker\": [\"host:port\", ...]}, \"task\": {\"type\": \"worker\", \"index\": N}}.");
        }
        JsonNode jobs = root == null ? null : root.get("cluster");
        if (jobs == null || !jobs.isObject()) {
            throw new FineTuneException("TF_CONFIG has no \"cluster\" object; expected {\"cluster\": {\"worker\": "
                    + "[\"host:port\", ...]}, \"task\": {\"type\": \"worker\", \"index\": N}}.");
        }
        for (var it = jobs.fieldNames(); it.hasNext(); ) {
            String job = it.next();
            if (!job.equals("worker") && !job.equals("chief")) {
                throw new FineTuneException("TF_CONFIG names a '" + job + "' job: synchronous all-reduce training has only "
                        + "workers (and at most one chief), no parameter servers or evaluators.");
            }
        }
        int chiefs = addresses(jobs.get("chief"), "chief", workers);
        if (chiefs > 1) {
            throw new FineTuneException("TF_CONFIG lists " + chiefs + " chiefs; there can be one.");
        }
        addresses(jobs.get("worker"), "worker", workers);
        if (workers.isEmpty()) {
            throw new FineTuneException("TF_CONFIG's cluster lists no workers.");
        }
        JsonNode task = root.get("task");
        if (task == null || task.isNull()) {
            return null;
        }
        String type = task.path("type").asText("worker");
        JsonNode index = task.get("index");
        if (index == null || !index.canConvertToInt()) {
            throw new FineTuneException("TF_CONFIG's task has no whole-number \"index\": " + task + ".");
        }
        return switch (type) {
            case "chief" -> index.asInt() == 0 && chiefs == 1 ? 0 : badTask(task);
            case "worker" -> chiefs + index.asInt();
            default -> badTask(task);
        };
    }

    private static int badTask(JsonNode task) {
        throw new FineTuneException("TF_CONFIG's task " + task + " is not one of its cluster's: use type worker (or chief "
                + "with index 0 when the cluster has a chief).");
    }

    private static int addresses(JsonNode list, String job, List<String> into) {
        if (list == null) {
            return 0;
        }
        if (!list.isArray()) {
            throw new FineTuneException("TF_CONFIG's cluster." + job + " must be a list of \"host:port\", not " + list + ".");
        }
        list.forEach(a -> into.add(a.isTextual() ? a.asText().strip() : ""));
        return list.size();
    }

    /** Why {@code address} is not host:port, or null. */
    private static String addressProblem(String address) {
        if (address.isEmpty()) {
            return "no address";
        }
        int colon = address.lastIndexOf(':');
        if (colon <= 0) {
            return "no port in '" + address + "'";
        }
        String port = address.substring(colon + 1);
        if (!port.matches("\\d{1,5}") || Integer.parseInt(port) < 1 || Integer.parseInt(port) > 65535) {
            return "no valid port in '" + address + "'";
        }
        return null;
    }

    /** More than one worker: a server, sharded batches and all-reduced gradients. */
    public boolean distributed() {
        return workers.size() > 1;
    }

    /** How many workers share each step (1 when alone). */
    public int size() {
        return Math.max(1, workers.size());
    }

    /** Worker 0 writes checkpoints, the model and the reports. */
    public boolean chief() {
        return index == 0;
    }

    /** This worker's address. */
    public String address() {
        return workers.get(index);
    }

    /** "worker 1 (10.0.0.2:2222)". */
    public String describe(int task) {
        return "worker " + task + " (" + workers.get(task) + ")";
    }

    /** TensorFlow's name for a worker's tasks: {@code /job:worker/replica:0/task:N}. */
    public static String taskName(int task) {
        return "/job:worker/replica:0/task:" + task;
    }
}

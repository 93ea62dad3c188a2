import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.finetune.runtime.Prediction;
import dev.finetune.runtime.TextClassifier;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The Java side of the serving benchmark (serving.sh): the runtime's {@link TextClassifier} on a model folder.
 * <pre>
 *   java -cp CLASSES:RUNTIME_CLASSPATH ServingBench serve   --model DIR --texts texts.json [--threads 2] [--precision auto]
 *                                                           [--settings main|levers]
 *   java -cp CLASSES:RUNTIME_CLASSPATH ServingBench startup --model DIR --texts texts.json --out FILE.json [--precision auto]
 *                                                           [--t0 EPOCH_SECONDS]
 * </pre>
 * {@code serve} loads one classifier per setting ({@code main}: the defaults with {@code --threads} intra-op threads and
 * {@code --precision};
 * {@code levers}: the settings of {@link TextClassifier.Options} worth knowing) and answers serving.py's driver, one
 * JSON command a line on standard input, one JSON answer a line on standard output (everything else goes to standard
 * error): {@code warmup}, {@code latency} (sequential single requests, {@code predict(String)}), {@code concurrent}
 * (client threads sending single requests, which the runtime gathers into micro-batches), {@code batched}
 * ({@code predict(List)}), {@code quit}. The driver interleaves the systems in rounds, so that a machine whose load
 * changes treats them alike. {@code startup}: load to first prediction in this fresh JVM. Batch sizes come from the
 * runtime's package-private batch listener, reached by reflection.
 */
public final class ServingBench {
    private static final ObjectMapper JSON = new ObjectMapper();

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new LinkedHashMap<>();
        for (int i = 1; i + 1 < args.length; i += 2) {
            a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        Path model = Path.of(a.get("model"));
        List<String> texts = Arrays.asList(JSON.readValue(Path.of(a.get("texts")).toFile(), String[].class));
        TextClassifier.Options defaults = TextClassifier.Options.defaults().threads(Integer.parseInt(a.getOrDefault("threads", "2")))
                .precision(a.getOrDefault("precision", "auto"));
        switch (args[0]) {
            case "serve" -> serve(model, texts, "levers".equals(a.get("settings")) ? levers(defaults)
                    : Map.of("precision " + defaults.precision(), defaults));
            case "startup" -> JSON.writeValue(Path.of(a.get("out")).toFile(), startup(model, defaults, texts, a.get("t0")));
            default -> throw new IllegalArgumentException("serve or startup, not " + args[0]);
        }
    }

    /** The runtime's levers: micro-batching on or off, maxWait, workers, intra-op threads. */
    private static Map<String, TextClassifier.Options> levers(TextClassifier.Options d) {
        Map<String, TextClassifier.Options> s = new LinkedHashMap<>();
        s.put("defaults: maxBatchSize 32, maxWait 2 ms, workers 1, threads 2, precision auto", d);
        s.put("precision float32", d.precision("float32"));
        s.put("micro-batching off (maxBatchSize 1)", d.maxBatchSize(1));
        s.put("micro-batching off, workers 2, threads 1", d.maxBatchSize(1).workers(2).threads(1));
        s.put("maxWait 0", d.maxWait(Duration.ZERO));
        s.put("maxWait 5 ms", d.maxWait(Duration.ofMillis(5)));
        s.put("workers 2 (threads 2 each)", d.workers(2));
        s.put("workers 2, threads 1 each", d.workers(2).threads(1));
        s.put("threads 1", d.threads(1));
        // predict(List) only: how big a batch the whole list is cut into.
        s.put("predict(List), maxBatchSize 8", d.maxBatchSize(8));
        s.put("predict(List), maxBatchSize 16", d.maxBatchSize(16));
        String only = System.getProperty("levers"); // a regular expression, to run a few
        if (only != null) {
            s.keySet().removeIf(k -> !k.matches(only));
        }
        return s;
    }

    /** A classifier on the folder, its batch sizes recorded. */
    private record Loaded(String name, TextClassifier classifier, List<Integer> batches) implements AutoCloseable {
        List<Integer> takeBatches() {
            synchronized (batches) {
                List<Integer> out = new ArrayList<>(batches);
                batches.clear();
                return out;
            }
        }

        @Override
        public void close() {
            classifier.close();
        }
    }

    /** TextClassifier.load(folder, options), with the runtime's batch listener (package-private) hooked in. */
    private static Loaded load(String name, Path folder, TextClassifier.Options options) throws Exception {
        List<Integer> sizes = new ArrayList<>();
        Class<?> listener = Class.forName("dev.finetune.runtime.MicroBatcher$BatchListener");
        Object proxy = Proxy.newProxyInstance(listener.getClassLoader(), new Class<?>[] {listener}, (p, m, args) -> {
            if (m.getName().equals("batch")) {
                synchronized (sizes) {
                    sizes.add((Integer) args[0]);
                }
            }
            return null;
        });
        Method open = TextClassifier.class.getDeclaredMethod("open", Path.class, TextClassifier.Options.class, listener);
        open.setAccessible(true);
        return new Loaded(name, (TextClassifier) open.invoke(null, folder, options, proxy), sizes);
    }

    private static void serve(Path model, List<String> texts, Map<String, TextClassifier.Options> settings) throws Exception {
        PrintStream protocol = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        System.setOut(System.err);
        List<Loaded> loaded = new ArrayList<>();
        try {
            for (var e : settings.entrySet()) {
                loaded.add(load(e.getKey(), model, e.getValue()));
            }
            Map<String, Object> ready = new LinkedHashMap<>();
            ready.put("ready", true);
            ready.put("name", "Java runtime (TextClassifier), " + precision(loaded.get(0).classifier()));
            ready.put("settings", loaded.stream().map(Loaded::name).toList());
            ready.put("options", settings.values().stream().map(Object::toString).toList());
            protocol.println(JSON.writeValueAsString(ready));
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                JsonNode c = JSON.readTree(line);
                String op = c.path("op").asText();
                if (op.equals("quit")) {
                    break;
                }
                Loaded l = loaded.get(c.path("setting").asInt(0));
                int start = c.path("start").asInt(0);
                int count = c.path("count").asInt(texts.size());
                List<String> some = new ArrayList<>();
                for (int i = 0; i < count; i++) {
                    some.add(texts.get((start + i) % texts.size()));
                }
                Map<String, Object> r = new LinkedHashMap<>();
                l.takeBatches();
                switch (op) {
                    case "warmup" -> warmUp(l.classifier(), texts);
                    case "latency" -> r.put("seconds", latency(l.classifier(), some));
                    case "concurrent" -> r.putAll(concurrent(l.classifier(), some, c.path("clients").asInt(8)));
                    case "batched" -> {
                        long t = System.nanoTime();
                        List<Prediction> all = l.classifier().predict(some);
                        r.put("wall", seconds(t));
                        List<List<Double>> probs = new ArrayList<>();
                        for (Prediction p : all) {
                            probs.add(new ArrayList<>(p.probabilities().values()));
                        }
                        r.put("probabilities", probs);
                    }
                    default -> throw new IllegalArgumentException("unknown op " + op);
                }
                r.put("batches", l.takeBatches());
                protocol.println(JSON.writeValueAsString(r));
            }
        } finally {
            loaded.forEach(Loaded::close);
        }
    }

    /** The precision the classifier's session computes in ({@code auto} decided), from its private model. */
    private static String precision(TextClassifier c) throws ReflectiveOperationException {
        var field = TextClassifier.class.getDeclaredField("model");
        field.setAccessible(true);
        return ((dev.finetune.runtime.FineTunedModel) field.get(c)).precision();
    }

    /** The warm-up serving.py gives each system: single requests, then a batch of each size the runs may form. */
    private static void warmUp(TextClassifier c, List<String> texts) {
        for (String t : texts.subList(0, 10)) {
            c.predict(t);
        }
        for (int n : new int[] {2, 4, 8, 16, 32}) {
            c.predict(texts.subList(0, n));
        }
    }

    private static Map<String, Object> startup(Path model, TextClassifier.Options options, List<String> texts, String t0) {
        long start = System.nanoTime();
        try (TextClassifier c = TextClassifier.load(model, options)) {
            c.predict(texts.get(0));
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("system", "java");
            r.put("load_to_first_prediction_s", seconds(start));
            r.put("process_start_to_first_prediction_s", t0 == null ? null : System.currentTimeMillis() / 1000.0 - Double.parseDouble(t0));
            System.out.println(JSON.valueToTree(r));
            return r;
        }
    }

    private static double[] latency(TextClassifier c, List<String> texts) {
        double[] s = new double[texts.size()];
        for (int i = 0; i < texts.size(); i++) {
            long t = System.nanoTime();
            c.predict(texts.get(i));
            s[i] = seconds(t);
        }
        return s;
    }

    /** Every text sent once as a single request by {@code clients} threads, each taking the next text when it has its answer. */
    private static Map<String, Object> concurrent(TextClassifier c, List<String> texts, int clients) throws InterruptedException {
        AtomicInteger next = new AtomicInteger();
        double[] s = new double[texts.size()];
        AtomicLong failures = new AtomicLong();
        List<Thread> threads = new ArrayList<>();
        for (int k = 0; k < clients; k++) {
            threads.add(new Thread(() -> {
                for (int i = next.getAndIncrement(); i < texts.size(); i = next.getAndIncrement()) {
                    long t = System.nanoTime();
                    try {
                        c.predict(texts.get(i));
                    } catch (RuntimeException e) {
                        failures.incrementAndGet();
                    }
                    s[i] = seconds(t);
                }
            }));
        }
        long start = System.nanoTime();
        threads.forEach(Thread::start);
        for (Thread t : threads) {
            t.join();
        }
        double wall = seconds(start);
        if (failures.get() > 0) {
            throw new IllegalStateException(failures.get() + " requests failed");
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("wall", wall);
        r.put("seconds", s);
        return r;
    }

    private static double seconds(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e9;
    }
}

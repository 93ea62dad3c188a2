package dev.finetune.examples.reviews;

import dev.finetune.runtime.Prediction;
import dev.finetune.runtime.TextClassifier;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;

/**
 * Classifies reviews with the model packaged by review-model:
 * <pre>
 * java -jar review-service.jar "what a wonderful film" "the plot was dull"   # each argument
 * java -jar review-service.jar &lt; reviews.txt                                # each line of standard input
 * java -jar review-service.jar serve 8080                                     # POST text to /classify
 * </pre>
 * Each answer is one line: the label, its probability and the text, separated by tabs.
 */
public final class ReviewApp {
    /** Lines of standard input predicted together at most; what is already buffered is batched, nothing waits for more. */
    static final int CHUNK = 64;

    private ReviewApp() {
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        if (args.length > 0 && args[0].equals("serve")) {
            serve(args.length > 1 ? Integer.parseInt(args[1]) : 8080);
            return;
        }
        // The only model jar on the class path; unpacked once into ~/.cache/finetune/models.
        try (TextClassifier classifier = TextClassifier.load()) {
            if (args.length > 0) {
                print(classifier, List.of(args), System.out);
            } else {
                classifyLines(classifier, new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)), System.out);
            }
        }
    }

    /**
     * Classifies each non-blank line of {@code in}. Lines already read ahead (a file, a pipe) are predicted as one
     * list, in batches; a person typing gets each answer as soon as the line is entered.
     */
    static void classifyLines(TextClassifier classifier, BufferedReader in, PrintStream out) throws IOException {
        List<String> chunk = new ArrayList<>();
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            if (!line.isBlank()) {
                chunk.add(line.strip());
            }
            if (chunk.size() >= CHUNK || !in.ready()) {
                print(classifier, chunk, out);
                chunk.clear();
            }
        }
        print(classifier, chunk, out);
    }

    static void print(TextClassifier classifier, List<String> texts, PrintStream out) {
        if (texts.isEmpty()) {
            return;
        }
        List<Prediction> predictions = classifier.predict(texts);
        for (int i = 0; i < texts.size(); i++) {
            out.println(line(predictions.get(i), texts.get(i)));
        }
        out.flush();
    }

    /** {@code positive<TAB>0.9731<TAB>the text}. */
    static String line(Prediction p, String text) {
        return p.label() + "\t" + String.format(Locale.ROOT, "%.4f", p.probability()) + "\t" + text;
    }

    private static void serve(int port) throws IOException, InterruptedException {
        TextClassifier classifier = TextClassifier.load();
        ReviewServer server = ReviewServer.start(classifier, new InetSocketAddress(port));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            classifier.close();
            stopped.countDown();
        }));
        System.err.println("Classifying reviews at http://localhost:" + server.port() + "/classify (labels "
                + classifier.labels() + "); Ctrl-C stops.");
        stopped.await();
    }
}

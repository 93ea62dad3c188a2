package dev.finetune.examples.reviews;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.finetune.runtime.Prediction;
import dev.finetune.runtime.TextClassifier;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small HTTP service on the JDK's own server: {@code POST /classify} with the review as the body (UTF-8 text)
 * answers
 * <pre>{"label":"positive","probability":0.9731,"probabilities":{"negative":0.0269,"positive":0.9731}}</pre>
 * and {@code GET /labels} lists the model's labels. Requests are handled on a pool of threads that all call
 * {@link TextClassifier#predict(String)}: the classifier is thread-safe, and requests that arrive together are run as
 * one batch, so there is no batching code here.
 */
public final class ReviewServer implements AutoCloseable {
    /** Longer bodies are refused (413): the model reads only its first few dozen tokens anyway. */
    static final int MAX_BODY_BYTES = 64 * 1024;

    private final HttpServer server;
    private final ExecutorService handlers;
    private final TextClassifier classifier;

    private ReviewServer(HttpServer server, ExecutorService handlers, TextClassifier classifier) {
        this.server = server;
        this.handlers = handlers;
        this.classifier = classifier;
    }

    /** Serves {@code classifier} on {@code address} (port 0: any free port) until {@link #close()}; the caller closes the classifier. */
    public static ReviewServer start(TextClassifier classifier, InetSocketAddress address) throws IOException {
        HttpServer server = HttpServer.create(address, 0);
        AtomicInteger n = new AtomicInteger();
        ExecutorService handlers = Executors.newFixedThreadPool(16, r -> {
            Thread t = new Thread(r, "review-http-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        ReviewServer s = new ReviewServer(server, handlers, classifier);
        server.createContext("/classify", s::classify);
        server.createContext("/labels", s::labels);
        server.setExecutor(handlers);
        server.start();
        return s;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private void classify(HttpExchange exchange) throws IOException {
        try (exchange) {
            if (!exchange.getRequestMethod().equals("POST")) {
                exchange.getResponseHeaders().set("Allow", "POST");
                send(exchange, 405, error("POST the text to classify."));
                return;
            }
            byte[] body;
            try (InputStream in = exchange.getRequestBody()) {
                body = in.readNBytes(MAX_BODY_BYTES + 1);
            }
            if (body.length > MAX_BODY_BYTES) {
                send(exchange, 413, error("At most " + MAX_BODY_BYTES + " bytes of text."));
                return;
            }
            String text = new String(body, StandardCharsets.UTF_8).strip();
            if (text.isEmpty()) {
                send(exchange, 400, error("The body is the text to classify, and it is empty."));
                return;
            }
            String answer;
            try {
                answer = json(classifier.predict(text));
            } catch (RuntimeException e) {
                // Closed while the request waited, or a model that does not give one label per text.
                send(exchange, 500, error(String.valueOf(e.getMessage())));
                return;
            }
            send(exchange, 200, answer);
        }
    }

    private void labels(HttpExchange exchange) throws IOException {
        try (exchange) {
            StringBuilder out = new StringBuilder("{\"task\":").append(quote(classifier.task().id())).append(",\"labels\":[");
            for (int i = 0; i < classifier.labels().size(); i++) {
                out.append(i > 0 ? "," : "").append(quote(classifier.labels().get(i)));
            }
            send(exchange, 200, out.append("]}").toString());
        }
    }

    /** The prediction as JSON: the label, its probability, and every label's probability in the model's order. */
    static String json(Prediction p) {
        StringBuilder out = new StringBuilder("{\"label\":").append(quote(p.label()))
                .append(",\"probability\":").append(number(p.probability())).append(",\"probabilities\":{");
        String sep = "";
        for (Map.Entry<String, Double> e : p.probabilities().entrySet()) {
            out.append(sep).append(quote(e.getKey())).append(':').append(number(e.getValue()));
            sep = ",";
        }
        return out.append("}}").toString();
    }

    private static String error(String message) {
        return "{\"error\":" + quote(message) + "}";
    }

    private static String number(double d) {
        return String.format(Locale.ROOT, "%.6f", d);
    }

    /** A JSON string: quotes, backslashes and control characters escaped. */
    static String quote(String s) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }

    private static void send(HttpExchange exchange, int status, String json) throws IOException {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    /** Stops accepting requests, lets those in flight finish (up to a second), then stops the handler threads. */
    @Override
    public void close() {
        server.stop(1);
        handlers.shutdown();
        try {
            handlers.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package dev.finetune.examples.reviews;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.runtime.TextClassifier;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The HTTP service on a free loopback port, asked as a client would. */
class ReviewServerTest {
    /** The whole answer, in the order the server writes it; numbers as it formats them. */
    static final Pattern ANSWER = Pattern.compile(
            "\\{\"label\":\"(\\w+)\",\"probability\":([0-9.]+),\"probabilities\":\\{\"negative\":([0-9.]+),\"positive\":([0-9.]+)}}");

    static TextClassifier classifier;
    static ReviewServer server;
    static HttpClient client;

    @BeforeAll
    static void start() throws Exception {
        classifier = TextClassifier.load();
        server = ReviewServer.start(classifier, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    }

    @AfterAll
    static void stop() {
        server.close();
        classifier.close();
    }

    @Test
    void classifiesThePostedText() throws Exception {
        assertAnswer(post("what a wonderful film"), "positive");
        assertAnswer(post("a sad and terrible movie"), "negative");
    }

    /** Twenty clients at once (their requests share batches): each gets its own text's answer. */
    @Test
    void concurrentClientsGetTheirOwnAnswers() {
        List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            boolean good = i % 3 == 0;
            expected.add(good ? "positive" : "negative");
            answers.add(client.sendAsync(request(good ? "this play was very good" : "i hated this story"),
                    HttpResponse.BodyHandlers.ofString()));
        }
        for (int i = 0; i < answers.size(); i++) {
            assertAnswer(answers.get(i).join(), expected.get(i));
        }
    }

    @Test
    void listsTheLabels() throws Exception {
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(uri("/labels")).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        assertEquals("{\"task\":\"single-label\",\"labels\":[\"negative\",\"positive\"]}", r.body());
    }

    @Test
    void refusesWhatItCannotClassify() throws Exception {
        HttpResponse<String> get = client.send(HttpRequest.newBuilder(uri("/classify")).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, get.statusCode());
        assertEquals("POST", get.headers().firstValue("Allow").orElse(""));

        HttpResponse<String> empty = post("  \n ");
        assertEquals(400, empty.statusCode());
        assertTrue(empty.body().startsWith("{\"error\":"), empty.body());

        HttpResponse<String> huge = post("great ".repeat(ReviewServer.MAX_BODY_BYTES / 6 + 1));
        assertEquals(413, huge.statusCode());
    }

    @Test
    void quotesJsonStrings() {
        assertEquals("\"a \\\"b\\\" \\\\ c\\n\\u0001\"", ReviewServer.quote("a \"b\" \\ c\n\u0001"));
    }

    private static void assertAnswer(HttpResponse<String> r, String label) {
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("application/json; charset=utf-8", r.headers().firstValue("Content-Type").orElse(""));
        Matcher m = ANSWER.matcher(r.body());
        assertTrue(m.matches(), r.body());
        assertEquals(label, m.group(1), r.body());
        double probability = Double.parseDouble(m.group(2));
        double negative = Double.parseDouble(m.group(3));
        double positive = Double.parseDouble(m.group(4));
        assertTrue(probability > 0.8, r.body());
        assertEquals(1.0, negative + positive, 1e-5, r.body());
        assertEquals(Math.max(negative, positive), probability, 0, r.body());
    }

    private static HttpResponse<String> post(String text) throws Exception {
        return client.send(request(text), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpRequest request(String text) {
        return HttpRequest.newBuilder(uri("/classify")).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "text/plain; charset=utf-8").POST(HttpRequest.BodyPublishers.ofString(text)).build();
    }

    private static URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.port() + path);
    }
}

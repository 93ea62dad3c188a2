package dev.finetune.engine.evaluation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** What the streamed evaluation keeps for the reports: the worst mistakes and the regression plot's points. */
class WorstMistakesTest {
    @Test
    void keepsWhatSortingEveryMistakeWouldWithTiesInFileOrder() {
        Random random = new Random(3);
        for (int trial = 0; trial < 50; trial++) {
            WorstMistakes worst = new WorstMistakes(10);
            List<Evaluation.Mistake> all = new ArrayList<>();
            int built = 0;
            int n = random.nextInt(60);
            for (int i = 0; i < n; i++) {
                double confidence = random.nextInt(8) / 8.0; // many ties
                Evaluation.Mistake m = new Evaluation.Mistake(2 + 3L * i, "text " + i, "a", "b", confidence);
                all.add(m);
                int[] calls = {0};
                worst.offer(confidence, m.line(), () -> {
                    calls[0]++;
                    return m;
                });
                built += calls[0];
            }
            all.sort(Comparator.comparingDouble(Evaluation.Mistake::confidence).reversed()); // stable: ties stay in file order
            assertEquals(all.subList(0, Math.min(10, n)), worst.list());
            assertTrue(built <= n, "a mistake is built at most once");
        }
    }

    @Test
    void buildsOnlyTheMistakesItKeeps() {
        WorstMistakes worst = new WorstMistakes(2);
        List<Long> built = new ArrayList<>();
        double[] confidences = {0.9, 0.8, 0.5, 0.8, 0.95};
        for (int i = 0; i < confidences.length; i++) {
            long line = i + 2;
            double c = confidences[i];
            worst.offer(c, line, () -> {
                built.add(line);
                return new Evaluation.Mistake(line, "t", "a", "b", c);
            });
        }
        assertEquals(List.of(2L, 3L, 6L), built, "0.5 and the later 0.8 are not among the two worst when offered");
        assertEquals(List.of(6L, 2L), worst.list().stream().map(Evaluation.Mistake::line).toList());
    }

    @Test
    void plotPointsSpreadOverTheWholeFileAndStayBounded() {
        for (int n : new int[] {0, 1, 7, 8, 9, 20, 33, 1000}) {
            PlotPoints points = new PlotPoints(8);
            for (int i = 0; i < n; i++) {
                points.add(i, new Evaluation.Point(i + 2, i, i));
            }
            List<Evaluation.Point> kept = points.list();
            if (n <= 8) {
                assertEquals(n, kept.size(), "a short file is plotted whole");
            } else {
                assertTrue(kept.size() > 4 && kept.size() <= 8, n + " rows gave " + kept.size() + " points");
                long every = (long) kept.get(1).truth();
                assertTrue(Long.bitCount(every) == 1, "every n-th row, n a power of two: " + every);
                for (int i = 0; i < kept.size(); i++) {
                    assertEquals(i * every, (long) kept.get(i).truth());
                }
                assertTrue((kept.size() - 1) * every + 2 * every > n - 1, "the last points are from the end of the file");
            }
        }
    }
}

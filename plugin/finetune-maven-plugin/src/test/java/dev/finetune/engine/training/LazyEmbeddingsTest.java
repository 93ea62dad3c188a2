package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.engine.model.EncoderGraph;
import dev.finetune.engine.model.Pooling;
import dev.finetune.engine.model.SignatureNames;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.model.SavedModelFile;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import dev.finetune.runtime.model.ServingSignature;
import org.tensorflow.Result;

/**
 * Lazy Adam on embedding tables ({@link LazyEmbeddings}) against TensorFlow's dense {@code ResourceApplyAdam}, on
 * models made by the real exporters: the rows a step looks up get exactly the dense update, every other weight too,
 * and the only difference is the one lazy Adam means, rows looked up before but not now stay where they were.
 */
class LazyEmbeddingsTest {
    /** Step one looks up rows {2, 3, 100..105, 190, 191}; step two {2, 3, 100, 120..125}. */
    static final Batch FIRST = batch(new int[] {2, 100, 101, 102, 3, 2, 190, 191, 103, 3, 2, 104, 105, 3, 0});
    static final Batch SECOND = batch(new int[] {2, 120, 121, 100, 3, 2, 122, 123, 3, 0, 2, 124, 125, 3, 0});

    private static Batch batch(int[] ids) {
        int[] mask = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            mask[i] = ids[i] == 0 ? 0 : 1;
        }
        return new Batch(3, 5, ids, mask, new int[ids.length], new int[] {1, 0, 1});
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-bert-tf1", "tiny-bert-keras", "families/gpt-keras"})
    void looksUpRowsGetTheDenseUpdateAndOthersStay(String name) {
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model(name)), SignatureNames.auto());
        // Clipping at 0.05, below every step's norm here, so that the rows are clipped with the rest.
        ClassifierGraph.Settings settings = new ClassifierGraph.Settings(Pooling.resolve("auto", enc), 0.0, 7, 0.9, 0.999,
                1e-6, 0.0, 0.05);
        try (ClassifierGraph dense = new ClassifierGraph(enc, 2, settings);
             ClassifierGraph lazy = new ClassifierGraph(enc, 2, settings.withLazyEmbeddings(true));
             ClassifierSession d = new ClassifierSession(dense, 1, 1);
             ClassifierSession l = new ClassifierSession(lazy, 1, 1)) {
            assertEquals(List.of(), dense.lazyTables());
            String table = wordTable(lazy);
            System.out.println(name + ": lazy tables " + lazy.lazyTables());
            assertTrue(lazy.lazyTables().contains(table), name + ": lazy tables " + lazy.lazyTables());
            assertEquals(List.of(), wholeReads(lazy), name + ": ops that read a lazy table whole, which copy-on-read copies");
            // Checkpoints save each lazy table and its moments apart (VariableSaver): exactly those, nothing else.
            assertEquals(lazy.lazyTables().stream().flatMap(t -> Stream.of(t, t + "/adam_m", t + "/adam_v")).sorted().toList(),
                    lazy.checkpointSaver.savedApart().stream().sorted().toList(), name + ": variables saved apart");
            assertEquals(List.of(), dense.checkpointSaver.savedApart(), name + ": dense tables are saved together");
            int width = (int) lazy.shapes.get(lazy.variableNames.indexOf(table)).get(1);
            d.initializeFromPretrained();
            l.initializeFromPretrained();
            float[] pretrained = l.variable(table);

            // The gradient, fetched whole, is the dense one; the step's loss and global norm too.
            assertClose(fetch(d, dense, table), fetch(l, lazy, table), name + ": gradient of " + table);
            var denseStep = d.train(FIRST, 1e-2f, 1, 0.9, 0.999);
            var lazyStep = l.train(FIRST, 1e-2f, 1, 0.9, 0.999);
            assertEquals(denseStep.loss(), lazyStep.loss(), 1e-6, name + ": loss");
            assertEquals(denseStep.gradientNorm(), lazyStep.gradientNorm(), 1e-5 * denseStep.gradientNorm(), name + ": global norm");
            assertTrue(denseStep.gradientNorm() > 0.05, name + ": clipped");
            // From zero moments, Adam moves no row without a gradient: after one step the two agree everywhere.
            for (String key : lazy.variableNames) {
                assertClose(d.variable(key), l.variable(key), name + ": " + key + " after one step");
            }
            float[] afterFirst = l.variable(table);
            d.train(SECOND, 1e-2f, 2, 0.9, 0.999);
            l.train(SECOND, 1e-2f, 2, 0.9, 0.999);
            for (String key : lazy.variableNames) {
                if (!key.equals(table)) {
                    assertClose(d.variable(key), l.variable(key), name + ": " + key + " after two steps");
                }
            }
            float[] denseTable = d.variable(table);
            float[] lazyTable = l.variable(table);
            Set<Integer> second = rows(SECOND);
            Set<Integer> firstOnly = new TreeSet<>(rows(FIRST));
            firstOnly.removeAll(second);
            for (int row = 0; row < pretrained.length / width; row++) {
                float[] dr = row(denseTable, row, width);
                float[] lr = row(lazyTable, row, width);
                if (second.contains(row)) {
                    assertClose(dr, lr, name + ": row " + row + ", looked up in step two");
                } else if (firstOnly.contains(row)) {
                    assertClose(row(afterFirst, row, width), lr, name + ": row " + row + " stays in step two");
                    assertFalse(java.util.Arrays.equals(row(afterFirst, row, width), dr),
                            name + ": dense Adam moves row " + row + " by its momentum");
                } else {
                    assertEquals(0, java.util.Arrays.compare(row(pretrained, row, width), lr), name + ": row " + row + " never looked up");
                }
            }
        }
    }

    /**
     * With encoder dropout the training step runs a copy of the encoder; the look-up is upstream of every dropout site,
     * so the copy shares it and the table's rows still get their gradient.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-bert-tf1", "tiny-bert-keras"})
    void encoderDropoutSharesTheLookUp(String name) {
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model(name)), SignatureNames.auto());
        ClassifierGraph.Settings settings = new ClassifierGraph.Settings(Pooling.resolve("auto", enc), 0.1, 7, 0.9, 0.999,
                1e-6, 0.0, 1.0).withEncoderDropout(0.1).withLazyEmbeddings(true);
        try (ClassifierGraph g = new ClassifierGraph(enc, 2, settings);
             ClassifierSession s = new ClassifierSession(g, 1, 1)) {
            assertTrue(g.encoderDropoutSites().count() > 0, name);
            String table = wordTable(g);
            assertTrue(g.lazyTables().contains(table), name + ": lazy tables " + g.lazyTables());
            s.initializeFromPretrained();
            float[] before = s.variable(table);
            s.train(FIRST, 1e-2f, 1, 0.9, 0.999);
            int width = (int) g.shapes.get(g.variableNames.indexOf(table)).get(1);
            assertFalse(java.util.Arrays.equals(row(before, 101, width), row(s.variable(table), 101, width)), name + ": row 101 trained");
            assertEquals(0, java.util.Arrays.compare(row(before, 150, width), row(s.variable(table), 150, width)), name + ": row 150 kept");
        }
    }

    /** Not on one device without accumulation: every table updates densely, and the graph says so. */
    @Test
    void accumulationKeepsDenseUpdates() {
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-tf1")), SignatureNames.auto());
        ClassifierGraph.Settings settings = new ClassifierGraph.Settings("pooled", 0.0, 7, 0.9, 0.999, 1e-6, 0.0, 1.0)
                .withLazyEmbeddings(true).withAccumulation(true);
        try (ClassifierGraph g = new ClassifierGraph(enc, 2, settings)) {
            assertEquals(List.of(), g.lazyTables());
        }
    }

    /** The reads of a lazy table whole that a training step runs: there must be none (savers run apart). */
    private static List<String> wholeReads(ClassifierGraph g) {
        var def = g.graph().toGraphDef();
        var step = dev.finetune.runtime.model.GraphDefs.ancestors(def, List.of(g.trainStep.op().name()));
        var nodes = dev.finetune.runtime.model.GraphDefs.byName(def);
        var consumers = dev.finetune.runtime.model.GraphDefs.consumers(def);
        List<String> out = new java.util.ArrayList<>();
        for (var n : def.getNodeList()) {
            var handle = n.getOp().equals("ReadVariableOp") ? dev.finetune.runtime.model.GraphDefs.variableHandle(nodes, n.getInput(0)) : null;
            if (handle != null && g.lazyTables().contains(dev.finetune.runtime.model.GraphDefs.variableKey(handle))
                    && step.contains(n.getName())) {
                consumers.getOrDefault(n.getName(), List.of()).forEach(c -> out.add(n.getName() + " -> " + c.getName() + " (" + c.getOp() + ")"));
            }
        }
        return out;
    }

    /** The variable looked up by token id: the one with as many rows as the vocabulary, the largest. */
    private static String wordTable(ClassifierGraph g) {
        EncoderVariable largest = g.encoderVariables().stream().max(java.util.Comparator.comparingLong(EncoderVariable::size)).orElseThrow();
        return largest.key();
    }

    private static Set<Integer> rows(Batch b) {
        Set<Integer> out = new TreeSet<>();
        for (int i = 0; i < b.inputIds().length; i++) {
            if (b.inputMask()[i] == 1) {
                out.add(b.inputIds()[i]);
            }
        }
        out.add(0);  // padding positions look up row 0 too, with a gradient through the masked attention
        return out;
    }

    private static float[] row(float[] table, int row, int width) {
        return java.util.Arrays.copyOfRange(table, row * width, (row + 1) * width);
    }

    private static float[] fetch(ClassifierSession s, ClassifierGraph g, String key) {
        List<org.tensorflow.Tensor> feeds = new java.util.ArrayList<>();
        try (Result out = s.feedTraining(s.session().runner(), FIRST, true, feeds)
                .fetch(g.gradients.get(g.variableNames.indexOf(key))).run()) {
            return ServingSignature.floats(out.get(0));
        } finally {
            feeds.forEach(org.tensorflow.Tensor::close);
        }
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-6 + 1e-5 * Math.abs(expected[i]), what + " [" + i + "]");
        }
    }
}

package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.engine.model.EncoderGraph;
import dev.finetune.engine.model.SignatureNames;
import dev.finetune.runtime.model.SavedModelFile;
import dev.finetune.runtime.model.ServingSignature;
import dev.finetune.runtime.model.SessionSettings;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;

/**
 * The head's dropout draws its masks from the training run's draw number, as the encoder's does: the same draw gives the
 * same mask (so a resumed run repeats the uninterrupted one, see {@link ResumeTest}), another draw another (so each step,
 * micro-batch and replica drops its own).
 */
class HeadDropoutTest {
    private static final double RATE = 0.25;

    @Test
    void masksAreKeyedByTheSeedAndTheDrawNumber() {
        try (Graph g = new Graph()) {
            Ops tf = Ops.create(g);
            Operand<TFloat32> ones = tf.fill(tf.constant(new int[] {64, 256}), tf.constant(1f));
            Placeholder<TInt64> draw = tf.placeholder(TInt64.class);
            Operand<TFloat32> dropped = ClassifierHead.dropout(tf, ones, RATE, 7, draw);
            Operand<TFloat32> otherSite = ClassifierHead.dropout(tf, ones, RATE, 8, draw);
            try (Session s = new Session(g)) {
                float[] first = run(s, dropped, draw, 1);
                assertArrayEquals(first, run(s, dropped, draw, 1), "the same draw gave another mask");
                assertFalse(Arrays.equals(first, run(s, dropped, draw, 2)), "another draw gave the same mask");
                assertFalse(Arrays.equals(first, run(s, otherSite, draw, 1)), "another seed gave the same mask");
                int zeros = 0;
                for (float v : first) {
                    if (v == 0) {
                        zeros++;
                    } else {
                        assertEquals(1 / (1 - RATE), v, 1e-6, "kept values are scaled by 1 / (1 - rate)");
                    }
                }
                assertEquals(RATE, (double) zeros / first.length, 0.02, "share of values dropped");
            }
        }
    }

    /**
     * The head keys its masks by the seed and small steps from it (one per layer); the encoder's sites by the seed and
     * the site mixed. Were a key shared, both would draw the same noise: with seed 0 the head's input mask was the first
     * attention site's before the mixing.
     */
    @Test
    void encoderSitesNeverShareAKeyWithTheHead() {
        for (long seed : new long[] {0, 1, -1, 42, Long.MAX_VALUE}) {
            java.util.Set<Long> head = new java.util.HashSet<>();
            for (int layer = 0; layer <= 16; layer++) {
                head.add(seed + 2L * layer);
            }
            for (int site = 0; site < 10_000; site++) {
                assertFalse(head.contains(dev.finetune.engine.model.EncoderDropout.siteSeed(seed, site)), "seed " + seed + ", site " + site);
            }
        }
    }

    /**
     * With head dropout alone, each replica still gets its own draw input (the encoder's dropout is off), and a
     * training run feeds each a different draw number.
     */
    @Test
    void replicasFeedTheirOwnDraw() {
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-keras")), SignatureNames.auto());
        ClassifierGraph.Settings headDropout = new ClassifierGraph.Settings("pooled", 0.1, 7, 0.9, 0.999, 1e-6, 0.01, 1.0);
        SessionSettings settings = new SessionSettings("cpu", 1, 1, "float32", false);
        try (ClassifierGraph plain = new ClassifierGraph(enc, 2, ClassifierGraphTest.SETTINGS)) {
            assertNull(plain.dropoutDraw, "no dropout, no draw to feed");
        }
        try (ClassifierGraph three = new ClassifierGraph(enc, 2, headDropout, DataParallel.NONE.onDevices(ReplicasTest.THREE_CPUS));
             ClassifierSession s = new ClassifierSession(three, settings.withCpuDevices(3))) {
            assertNotNull(three.dropoutDraw);
            for (Replicas.Replica r : three.replicas) {
                assertNotNull(r.input(three.dropoutDraw), r.device());
            }
            s.initializeFromPretrained();
            // What a training run feeds: each replica's head draws its own noise (the first values of its uniform draw,
            // which a shared key would repeat whatever the shard's rows).
            List<Tensor> feeds = new ArrayList<>();
            try {
                Session.Runner run = s.feedTraining(s.session().runner(), ClassifierGraphTest.toyBatch(), true, feeds);
                List<String> noise = new ArrayList<>();
                three.graph().operations().forEachRemaining(op -> {
                    if (op.type().equals("StatelessRandomUniform") && op.name().startsWith(Replicas.SCOPE)) {
                        noise.add(op.name());
                    }
                });
                assertEquals(3, noise.size(), noise.toString());
                noise.forEach(run::fetch);
                try (Result out = run.run()) {
                    float[][] first = new float[3][];
                    for (int k = 0; k < 3; k++) {
                        first[k] = Arrays.copyOf(ServingSignature.floats(out.get(k)), 16);
                    }
                    assertFalse(Arrays.equals(first[0], first[1]) || Arrays.equals(first[1], first[2]) || Arrays.equals(first[0], first[2]),
                            "two replicas drew the same noise");
                }
            } finally {
                feeds.forEach(Tensor::close);
            }
            assertTrue(Float.isFinite(s.train(ClassifierGraphTest.toyBatch(), 1e-3f, 1, 0.9, 0.999).loss()));
        }
    }

    private static float[] run(Session s, Operand<TFloat32> y, Placeholder<TInt64> draw, long number) {
        try (TInt64 d = TInt64.scalarOf(number); Result r = s.runner().feed(draw, d).fetch(y).run()) {
            return ServingSignature.floats(r.get(0));
        }
    }
}

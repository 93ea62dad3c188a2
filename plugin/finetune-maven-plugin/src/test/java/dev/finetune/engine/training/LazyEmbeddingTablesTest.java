package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/**
 * Which variables {@link LazyEmbeddings#tables} lets update lazily: only a table whose one use is a plain look-up of
 * rows. Every other use of it must leave it dense, since lazy Adam would then skip rows the step did use.
 */
class LazyEmbeddingTablesTest {
    private static final EncoderVariable TABLE = new EncoderVariable("table", "table", List.of("read:0"), new long[] {10, 4});

    @Test
    void aPlainLookUpUpdatesLazily() {
        Map<Integer, LazyEmbeddings.Table> found = tables(graph(gather("gather", "read", 0, 0)));
        assertEquals(Set.of(0), found.keySet());
        assertEquals("gather", found.get(0).lookup().getName());
        assertEquals("table", found.get(0).handle());
    }

    @Test
    void anyOtherUseStaysDense() {
        assertEquals(Map.of(), tables(graph(gather("gather", "read", 1, 0))), "gathered on axis 1");
        assertEquals(Map.of(), tables(graph(gather("gather", "read", 0, 1))), "batch_dims 1");
        assertEquals(Map.of(), tables(graph(gather("gather", "read", 0, 0), gather("again", "read", 0, 0))), "two look-ups");
        assertEquals(Map.of(), tables(graph(gather("gather", "read", 0, 0),
                node("product", "MatMul", "ids_float", "read"))), "also multiplied");
        // A second read of the table for its shape would run every step and copy the table in copy-on-read mode.
        assertEquals(Map.of(), tables(graph(gather("gather", "read", 0, 0), node("read_2", "ReadVariableOp", "table"),
                node("shape", "Shape", "read_2"))), "read again for its shape");
        assertEquals(Map.of(), tables(graph(node("doubled", "Mul", "read", "read"))), "no look-up at all");
    }

    @Test
    void twoDifferentiableReadsStayDense() {
        EncoderVariable twoReads = new EncoderVariable("table", "table", List.of("read:0", "read_2:0"), new long[] {10, 4});
        GraphDef g = graph(gather("gather", "read", 0, 0), node("read_2", "ReadVariableOp", "table"), gather("other", "read_2", 0, 0));
        assertEquals(Map.of(), LazyEmbeddings.tables(g, List.of(twoReads), LayerPlan.of(List.of("table"), -1, 1.0)));
    }

    private static Map<Integer, LazyEmbeddings.Table> tables(GraphDef g) {
        return LazyEmbeddings.tables(g, List.of(TABLE), LayerPlan.of(List.of("table"), -1, 1.0));
    }

    /** The table, its read, the ids and the axis constants, then {@code uses}. */
    private static GraphDef graph(NodeDef... uses) {
        GraphDef.Builder g = GraphDef.newBuilder()
                .addNode(NodeDef.newBuilder().setName("table").setOp("VarHandleOp")
                        .putAttr("dtype", type(DataType.DT_FLOAT)).putAttr("shape", AttrValue.newBuilder().setShape(
                                TensorShapeProto.newBuilder().addDim(TensorShapeProto.Dim.newBuilder().setSize(10))
                                        .addDim(TensorShapeProto.Dim.newBuilder().setSize(4))).build()))
                .addNode(node("read", "ReadVariableOp", "table"))
                .addNode(node("ids", "Placeholder"))
                .addNode(node("ids_float", "Placeholder"))
                .addNode(axis("axis_0", 0))
                .addNode(axis("axis_1", 1));
        for (NodeDef n : uses) {
            g.addNode(n);
        }
        return g.build();
    }

    private static NodeDef gather(String name, String read, int axis, int batchDims) {
        return node(name, "GatherV2", read, "ids", "axis_" + axis).toBuilder()
                .putAttr("Tparams", type(DataType.DT_FLOAT)).putAttr("Tindices", type(DataType.DT_INT32))
                .putAttr("batch_dims", AttrValue.newBuilder().setI(batchDims).build()).build();
    }

    private static NodeDef axis(String name, int value) {
        return NodeDef.newBuilder().setName(name).setOp("Const").putAttr("dtype", type(DataType.DT_INT32))
                .putAttr("value", AttrValue.newBuilder().setTensor(TensorProto.newBuilder().setDtype(DataType.DT_INT32)
                        .addIntVal(value)).build()).build();
    }

    private static NodeDef node(String name, String op, String... inputs) {
        return NodeDef.newBuilder().setName(name).setOp(op).addAllInput(List.of(inputs)).build();
    }

    private static AttrValue type(DataType t) {
        return AttrValue.newBuilder().setType(t).build();
    }
}

package dev.finetune.engine.training;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.train.Restore;
import org.tensorflow.proto.SaverDef;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TString;

/**
 * A V2 checkpoint saver over a chosen set of resource variables, built into the graph like TF1's
 * {@code tf.train.Saver}. Why our own: {@code Graph.addVariableSaver} handles only VariableV2, and a loaded
 * model's own SaverDef does not know the new head or the optimizer slots.
 */
public final class VariableSaver {
    private final Placeholder<TString> filename;
    private final Operand<TString> saveTensor;
    private final Op restoreAll;
    private final List<String> names;
    private final List<Operand<?>> values = new ArrayList<>();

    /** Builds the save and restore ops for {@code handles}, saved under {@code names}, in {@code tf}'s graph. */
    public VariableSaver(Ops tf, String name, List<String> names, List<Operand<?>> handles) {
        Ops scope = tf.withSubScope(name);
        filename = scope.withName("filename").placeholder(TString.class);
        Operand<TString> tensorNames = scope.constant(StandardCharsets.UTF_8, names.toArray(new String[0]));
        Operand<TString> slices = scope.constant(StandardCharsets.UTF_8, blank(names.size()));
        this.names = List.copyOf(names);
        List<Class<? extends org.tensorflow.types.family.TType>> dtypes = new ArrayList<>(handles.size());
        for (Operand<?> h : handles) {
            values.add(scope.readVariableOp(h, TFloat32.class));
            dtypes.add(TFloat32.class);
        }
        Op save = scope.train.save(filename, tensorNames, slices, values);
        saveTensor = scope.withControlDependencies(save).withName("save_control").identity(filename);
        Restore restored = scope.train.restore(filename, tensorNames, slices, dtypes);
        List<Op> assigns = new ArrayList<>(handles.size());
        for (int i = 0; i < handles.size(); i++) {
            assigns.add(scope.assignVariableOp(handles.get(i), restored.tensors().get(i)));
        }
        restoreAll = scope.withControlDependencies(assigns).withName("restore_all").noOp();
    }

    private static String[] blank(int n) {
        String[] s = new String[n];
        java.util.Arrays.fill(s, "");
        return s;
    }

    /** The read of the variable saved as {@code name}. */
    public Operand<?> value(String name) {
        int i = names.indexOf(name);
        if (i < 0) {
            throw new IllegalArgumentException("no variable saved as '" + name + "'");
        }
        return values.get(i);
    }

    public void save(Session session, String prefix) {
        try (TString path = TString.scalarOf(prefix)) {
            session.runner().feed(filename, path).addTarget(saveTensor.op()).run().close();
        }
    }

    public void restore(Session session, String prefix) {
        try (TString path = TString.scalarOf(prefix)) {
            session.runner().feed(filename, path).addTarget(restoreAll).run().close();
        }
    }

    /** The SaverDef a SavedModel loader uses to restore these variables. */
    public SaverDef saverDef() {
        return SaverDef.newBuilder()
                .setFilenameTensorName(filename.op().name() + ":0")
                .setSaveTensorName(saveTensor.op().name() + ":0")
                .setRestoreOpName(restoreAll.op().name())
                .setVersion(SaverDef.CheckpointFormatVersion.V2)
                .setMaxToKeep(1)
                .build();
    }

    /** Node names the saver needs, so that pruning keeps them. */
    public List<String> nodeNames() {
        return List.of(filename.op().name(), saveTensor.op().name(), restoreAll.op().name());
    }
}

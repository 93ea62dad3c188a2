package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.finetune.runtime.model.ServingSignature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.VarHandleOp;
import org.tensorflow.types.TFloat32;

/**
 * The savers' checkpoints, in one part and in several: a variable in copy-on-read mode (updated by a scatter, as a
 * lazy table and its moments are) saved apart, merged into one ordinary V2 checkpoint that restores every value.
 */
class VariableSaverTest {
    private static final List<String> NAMES = List.of("dense", "table", "table/adam_m");

    @Test
    void variablesSavedApartMergeIntoOneCheckpointThatRestoresThem(@TempDir Path tmp) throws IOException {
        try (Graph g = new Graph(); Session s = new Session(g)) {
            Ops tf = Ops.create(g);
            List<Operand<?>> handles = List.of(variable(tf, "dense"), variable(tf, "table"), variable(tf, "table_m"));
            VariableSaver parted = new VariableSaver(tf, "parted", NAMES, handles, Set.of(1, 2));
            VariableSaver whole = new VariableSaver(tf, "whole", NAMES, handles);
            for (int i = 0; i < handles.size(); i++) {
                run(s, tf.assignVariableOp(handles.get(i), tf.constant(values(i + 1))));
            }
            // Rows 1 and 3 of the table and its moment by scatters: both go into copy-on-read mode.
            Operand<org.tensorflow.types.TInt32> rows = tf.constant(new int[] {1, 3});
            Operand<TFloat32> update = tf.constant(new float[][] {{-1, -2, -3}, {-4, -5, -6}});
            run(s, tf.resourceScatterUpdate(handles.get(1), rows, update));
            run(s, tf.resourceScatterUpdate(handles.get(2), rows, update));
            float[][] saved = {read(s, tf, handles.get(0)), read(s, tf, handles.get(1)), read(s, tf, handles.get(2))};
            assertEquals(-6f, saved[1][11]);

            assertEquals(3, parted.parts());
            Path prefix = tmp.resolve("checkpoint").resolve("variables");
            parted.save(s, prefix.toString());
            // One index and a data file per part; the parts' folder is gone with the merge.
            assertEquals(List.of("variables.data-00000-of-00003", "variables.data-00001-of-00003",
                    "variables.data-00002-of-00003", "variables.index"), files(prefix.getParent()));
            assertRestores(s, tf, handles, parted, prefix, saved, "");
            // A saver of one part reads the merged checkpoint as its own: it is an ordinary checkpoint.
            assertRestores(s, tf, handles, whole, prefix, saved, ", restored by the saver of one part");
            assertFalse(Files.exists(Path.of(prefix + "_parts")));

            // A saver of one part writes one data file, as it always did.
            Path single = tmp.resolve("single").resolve("variables");
            whole.save(s, single.toString());
            assertEquals(List.of("variables.data-00000-of-00001", "variables.index"), files(single.getParent()));
            // Every variable apart: a part each, merged all the same.
            VariableSaver allApart = new VariableSaver(tf, "all_apart", NAMES, handles, Set.of(0, 1, 2));
            assertEquals(3, allApart.parts());
            assertEquals(NAMES, allApart.savedApart());
            Path apart = tmp.resolve("apart").resolve("variables");
            allApart.save(s, apart.toString());
            assertEquals(4, files(apart.getParent()).size());
            assertRestores(s, tf, handles, allApart, apart, saved, ", every variable apart");
            assertThrows(IllegalArgumentException.class, () -> new VariableSaver(tf, "bad", NAMES, handles, Set.of(3)));
        }
    }

    /** Overwrites every variable, restores {@code prefix} with {@code saver}, and expects the {@code saved} values back. */
    private static void assertRestores(Session s, Ops tf, List<Operand<?>> handles, VariableSaver saver, Path prefix,
                                       float[][] saved, String what) {
        for (Operand<?> h : handles) {
            run(s, tf.assignVariableOp(h, tf.constant(values(0))));
        }
        saver.restore(s, prefix.toString());
        for (int i = 0; i < handles.size(); i++) {
            assertArrayEquals(saved[i], read(s, tf, handles.get(i)), NAMES.get(i) + what);
        }
    }

    private static List<String> files(Path folder) throws IOException {
        try (Stream<Path> files = Files.list(folder)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static void run(Session s, Op target) {
        s.runner().addTarget(target).run().close();
    }

    @Test
    void onlyASaverOfOnePartHasASaverDef() {
        try (Graph g = new Graph()) {
            Ops tf = Ops.create(g);
            List<Operand<?>> handles = List.of(variable(tf, "dense"), variable(tf, "table"), variable(tf, "table_m"));
            VariableSaver whole = new VariableSaver(tf, "whole", NAMES, handles);
            assertEquals(1, whole.parts());
            assertEquals("whole/filename:0", whole.saverDef().getFilenameTensorName());
            assertEquals("whole/save_control:0", whole.saverDef().getSaveTensorName());
            assertEquals("whole/restore_all", whole.saverDef().getRestoreOpName());
            assertEquals(List.of("whole/filename", "whole/save_control", "whole/restore_all"), whole.nodeNames());
            VariableSaver parted = new VariableSaver(tf, "parted", NAMES, handles, Set.of(2));
            assertEquals(2, parted.parts());
            assertEquals(List.of("table/adam_m"), parted.savedApart());
            assertThrows(IllegalStateException.class, parted::saverDef);
            assertThrows(IllegalStateException.class, parted::nodeNames);
        }
    }

    private static VarHandleOp variable(Ops tf, String name) {
        return tf.withName(name).varHandleOp(TFloat32.class, Shape.of(4, 3), VarHandleOp.sharedName(name));
    }

    /** A 4 × 3 matrix of {@code k·100 + position}. */
    private static float[][] values(int k) {
        float[][] v = new float[4][3];
        for (int r = 0; r < 4; r++) {
            for (int c = 0; c < 3; c++) {
                v[r][c] = k * 100 + r * 3 + c;
            }
        }
        return v;
    }

    private static float[] read(Session s, Ops tf, Operand<?> handle) {
        try (Result r = s.runner().fetch(tf.readVariableOp(handle, TFloat32.class)).run()) {
            return ServingSignature.floats(r.get(0));
        }
    }
}

package dev.finetune.engine.training;

import dev.finetune.runtime.FineTuneException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.train.MergeV2Checkpoints;
import org.tensorflow.op.train.Restore;
import org.tensorflow.proto.SaverDef;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TString;

/**
 * A V2 checkpoint saver over a chosen set of resource variables, built into the graph like TF1's
 * {@code tf.train.Saver}. Why our own: {@code Graph.addVariableSaver} handles only VariableV2, and a loaded
 * model's own SaverDef does not know the new head or the optimizer slots.
 *
 * <p>Variables can be saved apart: each in a session run of its own, as a part that TensorFlow's
 * {@code MergeV2Checkpoints} then merges with the others into one ordinary checkpoint (one index, a data file per
 * part), the way TF1's sharded savers write one part per device. Why: a variable that sparse ops update (a lazily
 * updated embedding table and its Adam moments, {@link LazyEmbeddings}) is in TensorFlow's copy-on-read mode, where
 * every read copies it whole, and a {@code SaveV2} holds all its inputs at once. Saved together, BERT's word table and
 * its two moments were three 94 MB copies alive at the same time, and TensorFlow's allocator kept the room for them
 * for the rest of the run (resident memory +100 MiB from the first checkpoint on); saved apart, at most one such copy
 * is alive at a time. Restoring reads the merged checkpoint in one run, as any other.
 */
public final class VariableSaver {
    /** Where the parts are written before they are merged: beside the checkpoint, removed by the merge. */
    private static final String PARTS = "_parts";

    /** One {@code SaveV2} over some of the variables, in a session run of its own. */
    private record Part(Placeholder<TString> filename, Operand<TString> saveTensor) {
    }

    private final List<Part> parts = new ArrayList<>();
    private final Placeholder<TString> partPrefixes;
    private final Placeholder<TString> mergedPrefix;
    private final Op merge;
    private final Op restoreAll;
    private final List<String> names;
    private final List<String> savedApart;
    private final List<Operand<?>> values = new ArrayList<>();

    /** Builds the save and restore ops for {@code handles}, saved under {@code names}, in {@code tf}'s graph. */
    public VariableSaver(Ops tf, String name, List<String> names, List<Operand<?>> handles) {
        this(tf, name, names, handles, Set.of());
    }

    /**
     * As above, with the variables at the indices in {@code apart} each saved in a run of its own, the others together
     * in one more; see the class comment for why.
     */
    public VariableSaver(Ops tf, String name, List<String> names, List<Operand<?>> handles, Set<Integer> apart) {
        Ops scope = tf.withSubScope(name);
        apart.stream().filter(i -> i < 0 || i >= names.size()).findAny().ifPresent(i -> {
            throw new IllegalArgumentException("no variable " + i + " among " + names.size() + " to save apart");
        });
        this.names = List.copyOf(names);
        this.savedApart = apart.stream().sorted().map(names::get).toList();
        // Made first, as before there were parts: a saver of one part builds the same graph, in the same order.
        Placeholder<TString> firstFilename = scope.withName("filename").placeholder(TString.class);
        Operand<TString> allNames = scope.constant(StandardCharsets.UTF_8, names.toArray(new String[0]));
        Operand<TString> allSlices = scope.constant(StandardCharsets.UTF_8, blank(names.size()));
        List<Class<? extends org.tensorflow.types.family.TType>> dtypes = new ArrayList<>(handles.size());
        for (Operand<?> h : handles) {
            values.add(scope.readVariableOp(h, TFloat32.class));
            dtypes.add(TFloat32.class);
        }
        List<List<Integer>> groups = groups(names.size(), apart);
        for (int p = 0; p < groups.size(); p++) {
            // The first part keeps the names a saver of one part always had (the SaverDef's filename and save tensor).
            Ops part = p == 0 ? scope : scope.withSubScope("part_" + p);
            List<Integer> group = groups.get(p);
            Placeholder<TString> filename = p == 0 ? firstFilename : part.withName("filename").placeholder(TString.class);
            boolean whole = group.size() == names.size();
            Operand<TString> tensorNames = whole ? allNames
                    : part.constant(StandardCharsets.UTF_8, group.stream().map(names::get).toArray(String[]::new));
            Operand<TString> slices = whole ? allSlices : part.constant(StandardCharsets.UTF_8, blank(group.size()));
            Op save = part.train.save(filename, tensorNames, slices, group.stream().map(values::get).toList());
            parts.add(new Part(filename, part.withControlDependencies(save).withName("save_control").identity(filename)));
        }
        if (parts.size() > 1) {
            partPrefixes = scope.withName("part_prefixes").placeholder(TString.class);
            mergedPrefix = scope.withName("merged_prefix").placeholder(TString.class);
            merge = scope.train.mergeV2Checkpoints(partPrefixes, mergedPrefix, MergeV2Checkpoints.deleteOldDirs(true));
        } else {
            partPrefixes = null;
            mergedPrefix = null;
            merge = null;
        }
        Restore restored = scope.train.restore(parts.get(0).filename(), allNames, allSlices, dtypes);
        List<Op> assigns = new ArrayList<>(handles.size());
        for (int i = 0; i < handles.size(); i++) {
            assigns.add(scope.assignVariableOp(handles.get(i), restored.tensors().get(i)));
        }
        restoreAll = scope.withControlDependencies(assigns).withName("restore_all").noOp();
    }

    /** The parts' variables by index: first those saved together (if any), then each of {@code apart} alone. */
    private static List<List<Integer>> groups(int count, Set<Integer> apart) {
        List<List<Integer>> groups = new ArrayList<>();
        List<Integer> together = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            if (apart.contains(i)) {
                groups.add(List.of(i));
            } else {
                together.add(i);
            }
        }
        if (!together.isEmpty() || groups.isEmpty()) {
            groups.add(0, together);
        }
        return groups;
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

    /** Writes the checkpoint at {@code prefix}: in one run, or part by part and then merged. */
    public void save(Session session, String prefix) {
        if (parts.size() == 1) {
            run(session, parts.get(0), prefix);
            return;
        }
        // SaveV2 makes the folder of its prefix, not the folder above it.
        Path folder = Path.of(prefix + PARTS);
        try {
            Files.createDirectories(folder);
        } catch (IOException e) {
            throw new FineTuneException("Cannot write the checkpoint's parts in " + folder + ": " + e.getMessage(), e);
        }
        String[] prefixes = new String[parts.size()];
        for (int p = 0; p < parts.size(); p++) {
            prefixes[p] = folder.resolve("part-" + p).toString();
            run(session, parts.get(p), prefixes[p]);
        }
        try (TString from = TString.vectorOf(prefixes); TString to = TString.scalarOf(prefix)) {
            session.runner().feed(partPrefixes, from).feed(mergedPrefix, to).addTarget(merge).run().close();
        }
    }

    private static void run(Session session, Part part, String prefix) {
        try (TString path = TString.scalarOf(prefix)) {
            session.runner().feed(part.filename(), path).addTarget(part.saveTensor().op()).run().close();
        }
    }

    /** How many session runs a save takes before the merge: one per variable saved apart, one for the others. */
    int parts() {
        return parts.size();
    }

    /** The names of the variables saved apart, each in a part of its own. */
    List<String> savedApart() {
        return savedApart;
    }

    public void restore(Session session, String prefix) {
        try (TString path = TString.scalarOf(prefix)) {
            session.runner().feed(parts.get(0).filename(), path).addTarget(restoreAll).run().close();
        }
    }

    /** The SaverDef a SavedModel loader uses to restore these variables (a saver of one part: a loader saves in one run). */
    public SaverDef saverDef() {
        Part only = onlyPart("has no SaverDef");
        return SaverDef.newBuilder()
                .setFilenameTensorName(only.filename().op().name() + ":0")
                .setSaveTensorName(only.saveTensor().op().name() + ":0")
                .setRestoreOpName(restoreAll.op().name())
                .setVersion(SaverDef.CheckpointFormatVersion.V2)
                .setMaxToKeep(1)
                .build();
    }

    /** Node names the saver needs, so that pruning keeps them (a saver of one part: the one a SavedModel keeps). */
    public List<String> nodeNames() {
        Part only = onlyPart("is not kept in a SavedModel");
        return List.of(only.filename().op().name(), only.saveTensor().op().name(), restoreAll.op().name());
    }

    /** The one part of a saver that a SavedModel can keep (a loader saves in one run); refused, saying {@code why}, else. */
    private Part onlyPart(String why) {
        if (parts.size() > 1) {
            throw new IllegalStateException("a saver in " + parts.size() + " parts " + why);
        }
        return parts.get(0);
    }
}

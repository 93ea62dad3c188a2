package dev.finetune.runtime.model;

import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SavedModel;

/**
 * A SavedModel directory on disk: its {@code saved_model.pb}, its checkpoint prefix and its assets.
 * Parsed directly (no session, no weights loaded) so that the graph can be rewritten before it runs.
 */
public final class SavedModelFile {
    public static final String SERVE_TAG = "serve";

    private final Path directory;
    private final MetaGraphDef metaGraph;

    private SavedModelFile(Path directory, MetaGraphDef metaGraph) {
        this.directory = directory;
        this.metaGraph = metaGraph;
    }

    /** Reads the meta graph tagged {@code serve} (or the only one) of the SavedModel in {@code directory}. */
    public static SavedModelFile read(Path directory) {
        Path pb = directory.resolve("saved_model.pb");
        if (!Files.isRegularFile(pb)) {
            throw new ModelException("No saved_model.pb in " + directory + ": a SavedModel directory holds "
                    + "saved_model.pb and variables/.");
        }
        SavedModel model;
        try {
            model = SavedModel.parseFrom(Files.readAllBytes(pb));
        } catch (InvalidProtocolBufferException e) {
            throw new ModelException(pb + " is corrupt: it is not a SavedModel protocol buffer (" + e.getMessage() + ").", e);
        } catch (IOException e) {
            throw new ModelException("Cannot read " + pb + ": " + e.getMessage(), e);
        }
        if (model.getMetaGraphsCount() == 0) {
            throw new ModelException(pb + " holds no meta graph.");
        }
        List<String> tagSets = new ArrayList<>();
        for (MetaGraphDef mg : model.getMetaGraphsList()) {
            if (mg.getMetaInfoDef().getTagsList().contains(SERVE_TAG)) {
                return new SavedModelFile(directory, mg);
            }
            tagSets.add(mg.getMetaInfoDef().getTagsList().toString());
        }
        if (model.getMetaGraphsCount() == 1) {
            return new SavedModelFile(directory, model.getMetaGraphs(0));
        }
        throw new ModelException(pb + " has no meta graph tagged 'serve'; it has " + tagSets + ".");
    }

    public Path directory() {
        return directory;
    }

    public MetaGraphDef metaGraph() {
        return metaGraph;
    }

    /** The checkpoint prefix the model's own saver restores from. */
    public Path variablesPrefix() {
        Path index = directory.resolve("variables").resolve("variables.index");
        if (!Files.isRegularFile(index)) {
            throw new ModelException("The SavedModel in " + directory + " has no variables/variables.index: "
                    + "its weights are missing.");
        }
        return directory.resolve("variables").resolve("variables");
    }

    public Path asset(String name) {
        return directory.resolve("assets").resolve(name);
    }
}

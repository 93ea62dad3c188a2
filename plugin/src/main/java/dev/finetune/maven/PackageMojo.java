package dev.finetune.maven;

import dev.finetune.engine.export.ModelArchive;
import java.io.File;
import org.apache.maven.plugins.annotations.Component;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;
import org.apache.maven.project.MavenProject;
import org.apache.maven.project.MavenProjectHelper;

/**
 * Packs the fine-tuned model (SavedModel, labels, vocabulary, configuration, evaluation reports) into a zip and
 * attaches it to the project with a classifier, so that {@code mvn install} and {@code deploy} publish it. Another
 * project can then name it by coordinates, {@code groupId:artifactId:zip:model:version}, as its {@code <model>}: to
 * fine-tune it further (its signature also returns the encoder's {@code pooled_output}).
 */
@Mojo(name = "package", defaultPhase = LifecyclePhase.PACKAGE, threadSafe = true)
public class PackageMojo extends AbstractModelMojo {
    /** The classifier of the attached archive. */
    @Parameter(property = "finetune.classifier", defaultValue = "model")
    String classifier;

    /** The archive to write. */
    @Parameter(defaultValue = "${project.build.directory}/${project.build.finalName}-model.zip")
    File archive;

    /** Attach the archive to the project (so install and deploy publish it). */
    @Parameter(property = "finetune.attach", defaultValue = "true")
    boolean attach;

    @Parameter(defaultValue = "${project}", readonly = true, required = true)
    MavenProject project;

    @Component
    MavenProjectHelper projectHelper;

    @Override
    String goal() {
        return "packaging the model";
    }

    @Override
    void run() {
        ModelArchive.pack(modelDirectory.toPath(), archive.toPath());
        getLog().info("Packed " + modelDirectory + " into " + archive + ".");
        if (attach) {
            projectHelper.attachArtifact(project, "zip", classifier, archive);
            getLog().info("Attached it as " + project.getGroupId() + ":" + project.getArtifactId() + ":zip:" + classifier + ":"
                    + project.getVersion() + ".");
        }
    }
}

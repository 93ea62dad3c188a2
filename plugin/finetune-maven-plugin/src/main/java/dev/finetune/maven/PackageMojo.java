package dev.finetune.maven;

import dev.finetune.engine.export.ModelArchive;
import dev.finetune.engine.export.ModelJar;
import java.io.File;
import org.apache.maven.plugins.annotations.Component;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;
import org.apache.maven.project.MavenProject;
import org.apache.maven.project.MavenProjectHelper;

/**
 * Packs the fine-tuned model twice and attaches both to the project with the classifier {@code model}, so that
 * {@code mvn install} and {@code deploy} publish them:
 * <ul>
 * <li>a jar ({@code groupId:artifactId:jar:model:version}) that a Java application declares as an ordinary
 * dependency: {@code TextClassifier.load()} of {@code finetune-runtime} finds the model on its class path;</li>
 * <li>a zip of the whole folder (SavedModel, labels, tokenizer, configuration, evaluation reports) that another
 * project names as its {@code <model>} by coordinates, {@code groupId:artifactId:zip:model:version}, to fine-tune it
 * further (its signature also returns the encoder's {@code pooled_output}).</li>
 * </ul>
 */
@Mojo(name = "package", defaultPhase = LifecyclePhase.PACKAGE, threadSafe = true)
public class PackageMojo extends AbstractModelMojo {
    /** The classifier of the attached archive. */
    @Parameter(property = "finetune.classifier", defaultValue = "model")
    String classifier;

    /** The archive to write. */
    @Parameter(defaultValue = "${project.build.directory}/${project.build.finalName}-model.zip")
    File archive;

    /** The model jar to write, for applications. */
    @Parameter(defaultValue = "${project.build.directory}/${project.build.finalName}-model.jar")
    File modelJar;

    /**
     * The model's name inside the jar: what {@code TextClassifier.load(name)} asks for when an application has several
     * models on its class path.
     */
    @Parameter(property = "finetune.modelName", defaultValue = "${project.artifactId}")
    String modelName;

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
        ModelJar.pack(modelDirectory.toPath(), modelName, modelJar.toPath());
        getLog().info("Packed the model '" + modelName + "' for applications into " + modelJar + ".");
        if (attach) {
            projectHelper.attachArtifact(project, "zip", classifier, archive);
            projectHelper.attachArtifact(project, "jar", classifier, modelJar);
            String gav = project.getGroupId() + ":" + project.getArtifactId() + ":%s:" + classifier + ":" + project.getVersion();
            getLog().info("Attached them as " + String.format(gav, "zip") + " and " + String.format(gav, "jar") + ".");
        }
    }
}

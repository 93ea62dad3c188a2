package dev.finetune.maven;

import java.io.File;
import org.apache.maven.plugins.annotations.Parameter;

/** Goals that use a fine-tuned model rather than make one. */
abstract class AbstractModelMojo extends AbstractFineTuneMojo {
    /** The fine-tuned model: the output folder of {@code train} (of this build or an earlier one). */
    @Parameter(property = "finetune.modelDirectory", defaultValue = "${project.build.directory}/finetune")
    File modelDirectory;
}

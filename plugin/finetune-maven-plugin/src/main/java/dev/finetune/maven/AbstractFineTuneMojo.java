package dev.finetune.maven;

import dev.finetune.engine.data.DataReader;
import dev.finetune.engine.log.NativeLog;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.FineTuneException;
import java.io.File;
import org.apache.maven.plugin.AbstractMojo;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.Parameter;

/** What every goal shares: how data files are read, the batch size, and {@code skip}. */
abstract class AbstractFineTuneMojo extends AbstractMojo {
    /** {@code auto} (by extension), {@code csv}, {@code tsv} or {@code jsonl}. */
    @Parameter(property = "finetune.dataFormat", defaultValue = "auto")
    String dataFormat;

    /**
     * The delimiter of CSV and TSV files: {@code auto} (CSV: of {@code ,} {@code ;} tab {@code |}, the one that splits
     * the header line into the most fields consistently with the next few lines; TSV: tab), {@code tab}, or one
     * character such as {@code ;} for a spreadsheet exported in a French or German locale. {@code <delimiter>;</delimiter>}
     */
    @Parameter(property = "finetune.delimiter", defaultValue = "auto")
    String delimiter;

    /**
     * The charset data files are read in, strictly: a byte it does not define stops the build with the file and line.
     * By default the project's {@code project.build.sourceEncoding}, else UTF-8; {@code windows-1252} for a spreadsheet
     * saved as CSV on Windows. {@code <encoding>windows-1252</encoding>}
     */
    @Parameter(property = "finetune.encoding", defaultValue = "${project.build.sourceEncoding}")
    String encoding;

    /** The column (or JSON field) holding the text. */
    @Parameter(property = "finetune.textColumn", defaultValue = "text")
    String textColumn;

    /** Optional column with a second text, for sentence-pair tasks (gets segment id 1). */
    @Parameter(property = "finetune.textPairColumn")
    String textPairColumn;

    /** The column (or JSON field) holding the label. */
    @Parameter(property = "finetune.labelColumn", defaultValue = "label")
    String labelColumn;

    /** Multi-label: what separates the labels in one CSV/TSV cell, such as {@code a|b}. */
    @Parameter(property = "finetune.labelSeparator", defaultValue = "|")
    String labelSeparator;

    /** Token classification, JSON Lines: the field with each sentence's words (an array of strings). */
    @Parameter(property = "finetune.tokensColumn", defaultValue = "tokens")
    String tokensColumn;

    /** Token classification, JSON Lines: the field with the words' tags (an array of strings as long as the words). */
    @Parameter(property = "finetune.tagsColumn", defaultValue = "tags")
    String tagsColumn;

    /** Examples per training step. */
    @Parameter(property = "finetune.batchSize", defaultValue = "16")
    int batchSize;

    /**
     * Padded tokens (rows × the batch's longest row) per batch wherever many texts are predicted: validation during
     * training, {@code evaluate} and {@code predict}. {@code auto}: 32 rows of {@code maxSequenceLength}; either way at
     * most 128 rows. Short texts then go more to a batch, long ones fewer. {@code -Dfinetune.inferenceBatchTokens=4096}
     */
    @Parameter(property = "finetune.inferenceBatchTokens", defaultValue = "auto")
    String inferenceBatchTokens;

    /** Skip this goal; {@code -Dfinetune.skip} skips every goal of the plugin. */
    @Parameter(property = "finetune.skip", defaultValue = "false")
    boolean skip;

    @Parameter(defaultValue = "${project.basedir}", readonly = true)
    File basedir;

    /**
     * Where TensorFlow's own log goes: {@code maven} (its warnings and errors as the build's, its information lines
     * only with {@code -X}) or {@code stderr} (straight to standard error, as TensorFlow writes it).
     */
    @Parameter(property = "finetune.nativeLog", defaultValue = "maven")
    String nativeLog;

    @Override
    public final void execute() throws MojoExecutionException, MojoFailureException {
        if (skip) {
            getLog().info("Skipping " + goal() + " (finetune.skip).");
            return;
        }
        liftNativeMemoryCap();
        try (NativeLog.Routing routing = routeNativeLog()) {
            run();
        } catch (FineTuneException e) {
            throw new MojoExecutionException(e.getMessage(), e);
        }
    }

    /**
     * JavaCPP, on which TensorFlow Java runs, caps the resident memory of the whole process at about four times the
     * Java heap and fails with "Physical memory usage is too high" beyond it. TensorFlow's memory is native, outside
     * the heap: BERT-base needs about 2.3 GB of it, so a build with a small Maven heap ({@code -Xmx512m}) failed for
     * no reason of its own. The cap is lifted unless the user set it; JavaCPP reads it once, when it first loads, which
     * is after this in a fresh Maven JVM.
     */
    static void liftNativeMemoryCap() {
        if (System.getProperty("org.bytedeco.javacpp.maxPhysicalBytes") == null
                && System.getProperty("org.bytedeco.javacpp.maxphysicalbytes") == null) {
            System.setProperty("org.bytedeco.javacpp.maxPhysicalBytes", "0");
        }
    }

    private NativeLog.Routing routeNativeLog() throws MojoExecutionException {
        if ("stderr".equals(nativeLog)) {
            return () -> {
            };
        }
        if (!"maven".equals(nativeLog)) {
            throw new MojoExecutionException("nativeLog is maven or stderr, not '" + nativeLog + "'.");
        }
        return NativeLog.route(new NativeLog.Sink() {
            @Override
            public void debug(String message) {
                getLog().debug(message);
            }

            @Override
            public void warn(String message) {
                getLog().warn(message);
            }

            @Override
            public void error(String message) {
                getLog().error(message);
            }
        }, problem -> getLog().debug(problem));
    }

    abstract String goal();

    abstract void run() throws MojoExecutionException, MojoFailureException;

    ProgressListener progress() {
        return new ProgressListener() {
            @Override
            public void info(String message) {
                getLog().info(message);
            }

            @Override
            public void warn(String message) {
                getLog().warn(message);
            }
        };
    }

    /**
     * Required parameters are checked here, not by Maven, so that {@code skip} works even where they are unset
     * (Maven validates required parameters before the goal can look at {@code skip}).
     */
    static void required(Object value, String name, String what) throws MojoExecutionException {
        if (value == null) {
            throw new MojoExecutionException(name + " is not set: name " + what + " in the plugin configuration or with -Dfinetune."
                    + name + "=...");
        }
    }

    /** A reader of the configured columns, delimiter and encoding. */
    DataReader dataReader(boolean labelled) {
        DataReader columns = labelled ? new DataReader(textColumn, blankToNull(textPairColumn), labelColumn)
                : DataReader.unlabelled(textColumn, blankToNull(textPairColumn), labelColumn);
        return columns.withDialect(delimiter, encoding);
    }

    /**
     * A reader of the configured columns in the form {@code model}'s task labels them: multi-label data has label lists,
     * which may be empty (also in a file to predict on, where an empty label cell is no error).
     */
    DataReader dataReader(boolean labelled, dev.finetune.runtime.FineTunedModel model) {
        DataReader reader = dataReader(labelled);
        return model.task() == dev.finetune.runtime.Task.MULTI_LABEL ? reader.multiLabel(labelSeparator) : reader;
    }

    /** A reader of tagged sentences (CoNLL or JSON Lines) in the configured fields and encoding. */
    dev.finetune.engine.data.TokenDataReader tokenReader(boolean labelled) {
        return new dev.finetune.engine.data.TokenDataReader(tokensColumn, tagsColumn, labelled).withEncoding(encoding);
    }

    static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }
}

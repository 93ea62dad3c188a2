package dev.finetune.maven;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.report.EvaluationReports;
import dev.finetune.runtime.Json;
import java.io.File;
import java.io.IOException;
import java.util.Locale;
import org.apache.commons.io.FileUtils;
import org.apache.maven.doxia.sink.Sink;
import org.apache.maven.plugin.AbstractMojo;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;
import org.apache.maven.reporting.MavenReport;
import org.apache.maven.reporting.MavenReportException;

/**
 * The fine-tuned model's evaluation as a page of the Maven site ({@code mvn site}): headline metrics, gates and
 * the per-class table, with the full {@code evaluation.html} (charts, confusion matrix, mistakes) copied beside it.
 *
 * <pre>{@code
 * <reporting>
 *   <plugins>
 *     <plugin>
 *       <groupId>dev.finetune</groupId>
 *       <artifactId>finetune-maven-plugin</artifactId>
 *       <reportSets><reportSet><reports><report>report</report></reports></reportSet></reportSets>
 *     </plugin>
 *   </plugins>
 * </reporting>
 * }</pre>
 */
@Mojo(name = "report", threadSafe = true)
public class ReportMojo extends AbstractMojo implements MavenReport {
    static final String OUTPUT_NAME = "finetune-evaluation";

    /** Where {@code evaluate} wrote its reports. */
    @Parameter(property = "finetune.reportDirectory", defaultValue = "${project.build.directory}/finetune")
    File reportDirectory;

    /** The site folder. */
    @Parameter(defaultValue = "${project.reporting.outputDirectory}", readonly = true)
    File outputDirectory;

    @Override
    public void execute() throws MojoExecutionException {
        try {
            copyFullPage();
            getLog().info("Copied the evaluation page to " + new File(outputDirectory, "finetune/" + EvaluationReports.HTML));
        } catch (IOException e) {
            throw new MojoExecutionException("Cannot copy the evaluation page: " + e.getMessage(), e);
        }
    }

    private void copyFullPage() throws IOException {
        FileUtils.copyFile(new File(reportDirectory, EvaluationReports.HTML), new File(outputDirectory, "finetune/" + EvaluationReports.HTML));
    }

    @Override
    public void generate(org.codehaus.doxia.sink.Sink sink, Locale locale) throws MavenReportException {
        generate((Sink) sink);
    }

    void generate(Sink sink) throws MavenReportException {
        JsonNode e;
        try {
            e = Json.MAPPER.readTree(new File(reportDirectory, EvaluationReports.JSON));
            copyFullPage();
        } catch (IOException ex) {
            throw new MavenReportException("Cannot read the evaluation in " + reportDirectory + ": " + ex.getMessage(), ex);
        }
        sink.head();
        sink.title();
        sink.text("Fine-tuned model evaluation");
        sink.title_();
        sink.head_();
        sink.body();
        sink.section1();
        sink.sectionTitle1();
        sink.text("Fine-tuned model evaluation");
        sink.sectionTitle1_();
        String task = e.path("task").asText("single-label");
        String measured = task.equals("token-classification") ? e.path("sentences").asInt() + " sentences"
                : e.path("examples").asInt() + " examples";
        paragraph(sink, measured + " from " + new File(e.path("testFile").asText()).getName()
                + (task.equals("single-label") ? "" : " (" + task + ")")
                + (e.path("gates").size() == 0 ? "." : e.path("passed").asBoolean() ? "; every quality gate passed." : "; quality gates failed."));
        sink.paragraph();
        sink.link("finetune/" + EvaluationReports.HTML);
        sink.text(task.equals("single-label") ? "The full evaluation page: confusion matrix, training curves, most confident mistakes"
                : "The full evaluation page: per-label tables, plots, training curves, worst examples");
        sink.link_();
        sink.paragraph_();
        subsection(sink, "Metrics");
        table(sink, new String[] {"metric", "value"}, metrics(e, task));
        if (e.path("gates").size() > 0) {
            String[][] rows = new String[e.path("gates").size()][];
            for (int i = 0; i < rows.length; i++) {
                JsonNode g = e.path("gates").get(i);
                rows[i] = new String[] {g.path("metric").asText() + " (" + g.path("comparison").asText() + ")", f(g.path("limit")),
                    f(g.path("value")), g.path("passed").asBoolean() ? "passed" : "failed"};
            }
            subsection(sink, "Quality gates");
            table(sink, new String[] {"quality gate", "limit", "value", "result"}, rows);
        }
        if (!task.equals("regression")) {
            boolean entities = task.equals("token-classification");
            JsonNode list = e.path(entities ? "perType" : task.equals("multi-label") ? "perLabel" : "perClass");
            String[][] classes = new String[list.size()][];
            for (int i = 0; i < classes.length; i++) {
                JsonNode c = list.get(i);
                classes[i] = new String[] {c.path(entities ? "type" : "label").asText(), f(c.path("precision")), f(c.path("recall")),
                    f(c.path("f1")), String.valueOf(c.path("support").asInt())};
            }
            String what = entities ? "entity type" : task.equals("multi-label") ? "label" : "class";
            subsection(sink, "Per " + what);
            table(sink, new String[] {what, "precision", "recall", "F1", "support"}, classes);
        }
        sink.section1_();
        sink.body_();
        sink.flush();
        sink.close();
    }

    /** The headline metrics of the evaluation's task, from evaluation.json's fields for it. */
    private static String[][] metrics(JsonNode e, String task) {
        return switch (task) {
            case "multi-label" -> new String[][] {
                {"micro F1", f(e.path("micro").path("f1"))}, {"macro F1", f(e.path("macro").path("f1"))},
                {"weighted F1", f(e.path("weighted").path("f1"))}, {"samples F1", f(e.path("samples").path("f1"))},
                {"subset accuracy", f(e.path("subsetAccuracy"))}, {"Hamming loss", f(e.path("hammingLoss"))},
                {"macro ROC-AUC", f(e.path("macroRocAuc"))}};
            case "regression" -> new String[][] {
                {"RMSE", f(e.path("rmse"))}, {"MAE", f(e.path("mae"))}, {"R²", f(e.path("r2"))},
                {"Pearson", f(e.path("pearson"))}, {"Spearman", f(e.path("spearman"))}};
            case "token-classification" -> new String[][] {
                {"entity micro F1", f(e.path("micro").path("f1"))}, {"entity macro F1", f(e.path("macro").path("f1"))},
                {"entity precision", f(e.path("micro").path("precision"))}, {"entity recall", f(e.path("micro").path("recall"))},
                {"token accuracy", f(e.path("tokenAccuracy"))}};
            default -> new String[][] {
                {"accuracy", f(e.path("accuracy"))}, {"macro F1", f(e.path("macro").path("f1"))},
                {"weighted F1", f(e.path("weighted").path("f1"))}, {"log loss", f(e.path("logLoss"))},
                {"ROC-AUC", f(e.path("rocAuc"))}, {"PR-AUC", f(e.path("prAuc"))},
                {"calibration error", f(e.path("expectedCalibrationError"))}};
        };
    }

    private static void subsection(Sink sink, String title) {
        sink.sectionTitle2();
        sink.text(title);
        sink.sectionTitle2_();
    }

    private static void paragraph(Sink sink, String text) {
        sink.paragraph();
        sink.text(text);
        sink.paragraph_();
    }

    private static void table(Sink sink, String[] header, String[][] rows) {
        sink.table();
        sink.tableRows(null, false);
        sink.tableRow();
        for (String h : header) {
            sink.tableHeaderCell();
            sink.text(h);
            sink.tableHeaderCell_();
        }
        sink.tableRow_();
        for (String[] row : rows) {
            sink.tableRow();
            for (String cell : row) {
                sink.tableCell();
                sink.text(cell);
                sink.tableCell_();
            }
            sink.tableRow_();
        }
        sink.tableRows_();
        sink.table_();
    }

    private static String f(JsonNode v) {
        return v == null || v.isNull() || v.isMissingNode() ? "n/a" : String.format(Locale.ROOT, "%.4f", v.asDouble());
    }

    @Override
    public String getOutputName() {
        return OUTPUT_NAME;
    }

    @Override
    public String getCategoryName() {
        return CATEGORY_PROJECT_REPORTS;
    }

    @Override
    public String getName(Locale locale) {
        return "Model evaluation";
    }

    @Override
    public String getDescription(Locale locale) {
        return "How the fine-tuned model did on its test data, and whether it met its quality gates.";
    }

    @Override
    public void setReportOutputDirectory(File directory) {
        this.outputDirectory = directory;
    }

    @Override
    public File getReportOutputDirectory() {
        return outputDirectory;
    }

    @Override
    public boolean isExternalReport() {
        return false;
    }

    @Override
    public boolean canGenerateReport() {
        return new File(reportDirectory, EvaluationReports.JSON).isFile();
    }
}

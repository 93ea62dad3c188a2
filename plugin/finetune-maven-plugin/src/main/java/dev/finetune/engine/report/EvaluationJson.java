package dev.finetune.engine.report;

import dev.finetune.engine.evaluation.EntityMetrics;
import dev.finetune.engine.evaluation.Evaluation;
import dev.finetune.engine.evaluation.Metrics;
import dev.finetune.engine.evaluation.MultiLabelMetrics;
import dev.finetune.engine.evaluation.QualityGates;
import dev.finetune.engine.export.PortablePaths;
import dev.finetune.engine.evaluation.RegressionMetrics;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The document behind {@code evaluation.json}. Field names are a stable interface (README documents them); add
 * fields, never rename them, and bump {@code schemaVersion} on any incompatible change.
 */
final class EvaluationJson {
    static final int SCHEMA_VERSION = 1;

    private EvaluationJson() {
    }

    /** Single-label: the fields of schema version 1, unchanged. */
    private static void singleLabel(Map<String, Object> doc, Evaluation e) {
        Metrics.Summary m = e.metrics();
        doc.put("examples", m.examples());
        doc.put("labels", e.labels());
        doc.put("accuracy", m.accuracy());
        doc.put("logLoss", m.logLoss());
        doc.put("rocAuc", m.rocAuc());
        doc.put("prAuc", m.prAuc());
        doc.put("expectedCalibrationError", m.expectedCalibrationError());
        doc.put("macro", m.macro());
        doc.put("micro", m.micro());
        doc.put("weighted", m.weighted());
        doc.put("perClass", m.perClass());
        Map<String, Object> confusion = new LinkedHashMap<>();
        confusion.put("labels", e.labels());
        confusion.put("rows", m.confusion());
        doc.put("confusionMatrix", confusion);
    }

    /** Multi-label: scikit-learn's multi-label metrics at the model's thresholds, and per label. */
    private static void multiLabel(Map<String, Object> doc, Evaluation e) {
        MultiLabelMetrics.Summary m = e.multiLabel();
        doc.put("examples", m.examples());
        doc.put("labels", e.labels());
        doc.put("subsetAccuracy", m.subsetAccuracy());
        doc.put("hammingLoss", m.hammingLoss());
        doc.put("micro", m.micro());
        doc.put("macro", m.macro());
        doc.put("weighted", m.weighted());
        doc.put("samples", m.samples());
        doc.put("macroRocAuc", m.macroRocAuc());
        doc.put("perLabel", m.perLabel());
    }

    /** Regression: errors and correlations, and (a sample of) the points behind the report's plots. */
    private static void regression(Map<String, Object> doc, Evaluation e) {
        RegressionMetrics.Summary m = e.regression();
        doc.put("examples", m.examples());
        doc.put("target", e.labels().get(0));
        doc.put("rmse", m.rmse());
        doc.put("mae", m.mae());
        doc.put("r2", m.r2());
        doc.put("pearson", m.pearson());
        doc.put("spearman", m.spearman());
        doc.put("points", e.points());
    }

    /** Token classification: entity-level (exact span) metrics per type and averaged, token accuracy, worst sentences. */
    private static void entities(Map<String, Object> doc, Evaluation e) {
        EntityMetrics.Summary m = e.entities();
        doc.put("sentences", m.sentences());
        doc.put("tokens", m.tokens());
        doc.put("labels", e.labels());
        doc.put("tokenAccuracy", m.tokenAccuracy());
        doc.put("micro", m.micro());
        doc.put("macro", m.macro());
        doc.put("weighted", m.weighted());
        doc.put("perType", m.perType());
        doc.put("worstSentences", e.worstSentences());
    }

    static Map<String, Object> of(Evaluation e, List<QualityGates.Result> gates, Path project) {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("schemaVersion", SCHEMA_VERSION);
        doc.put("task", e.task());
        doc.put("modelDirectory", PortablePaths.relative(e.modelDirectory(), project));
        doc.put("testFile", PortablePaths.relative(e.testFile(), project));
        if (e.multiLabel() != null) {
            multiLabel(doc, e);
        } else if (e.regression() != null) {
            regression(doc, e);
        } else if (e.entities() != null) {
            entities(doc, e);
        } else {
            singleLabel(doc, e);
        }
        doc.put("unknownLabels", e.unknownLabels());
        doc.put("worstErrors", e.worstErrors());
        List<Map<String, Object>> gateList = new ArrayList<>();
        for (QualityGates.Result g : gates) {
            Map<String, Object> gm = new LinkedHashMap<>();
            gm.put("name", g.name());
            gm.put("metric", g.metric());
            gm.put("comparison", g.comparison());
            gm.put("limit", g.limit());
            gm.put("value", g.value());
            gm.put("passed", g.passed());
            gateList.add(gm);
        }
        doc.put("gates", gateList);
        doc.put("passed", gates.stream().allMatch(QualityGates.Result::passed));
        doc.put("seconds", e.seconds());
        if (!Double.isNaN(e.paddedTokensPerExample())) {
            doc.put("paddedTokensPerExample", e.paddedTokensPerExample());
        }
        return doc;
    }
}

package dev.finetune.engine.report;

import dev.finetune.engine.evaluation.Evaluation;
import dev.finetune.engine.evaluation.Metrics;
import dev.finetune.engine.evaluation.QualityGates;
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

    static Map<String, Object> of(Evaluation e, List<QualityGates.Result> gates) {
        Metrics.Summary m = e.metrics();
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("schemaVersion", SCHEMA_VERSION);
        doc.put("modelDirectory", e.modelDirectory().toString());
        doc.put("testFile", e.testFile().toString());
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
        return doc;
    }
}

// train then evaluate in one `mvn verify`: every gate passes, and the four reports are there and say so.
import groovy.json.JsonSlurper

def out = new File(basedir, 'target/finetune')
def json = new JsonSlurper().parse(new File(out, 'evaluation.json'))
assert json.schemaVersion == 1
assert json.examples == 80
assert json.labels == ['negative', 'positive']
assert json.accuracy >= 0.9 && json.macro.f1 >= 0.9
assert json.perClass*.label == ['negative', 'positive'] && json.perClass*.support == [40, 40]
assert json.confusionMatrix.rows.flatten().sum() == 80
assert json.gates.size() == 5 && json.gates.every { it.passed } && json.passed
assert json.gates*.name as Set == ['minimumAccuracy', 'minimumMacroF1', 'minimumClassF1.positive', 'minimumClassF1.negative', 'maximumLoss'] as Set
assert json.rocAuc != null && json.prAuc != null && json.expectedCalibrationError != null
assert json.paddedTokensPerExample >= 3 : 'every text is at least [CLS], a word and [SEP]'

def html = new File(out, 'evaluation.html').text
assert html.startsWith('<!DOCTYPE html>')
assert html.count('<svg') == 5 : 'expected the confusion matrix and four training charts'
assert html.contains('aria-label="confusion matrix"') && html.contains('aria-label="Training loss per step"')
assert html.contains('All 5 quality gates passed')
assert !html.contains('<script') && !html.contains('src="http')

def junit = javax.xml.parsers.DocumentBuilderFactory.newInstance().newDocumentBuilder()
        .parse(new File(out, 'TEST-finetune-quality-gates.xml')).documentElement
assert junit.getAttribute('tests') == '5' && junit.getAttribute('failures') == '0'
assert junit.getElementsByTagName('testcase').length == 5
assert new File(out, 'evaluation.md').text.contains('✅ passed')

def log = new File(basedir, 'build.log').text
def trained = log.indexOf('Fine-tuned model written to')
assert trained > 0 && trained < log.indexOf('Evaluated 80 examples') : 'train must run before evaluate'

assert log.contains('Gate passed: accuracy is')
// The tiny TF1 BERT's two GELUs and five layer norms are served as fused oneDNN ops (FusedGelu, FusedLayerNorm), which
// x86 builds of TensorFlow have; in bfloat16 its 14 dense layers (six a layer, the pooler, the head) also pack their
// weights (PackedDense), and the attention between them runs as written in bfloat16 (Bfloat16Stretches, one a layer).
// Elsewhere the log says why they are not fused.
if (System.getProperty('os.arch') in ['amd64', 'x86_64']) {
    assert log =~ /Inference in float32; fused ops: 2 dense layers \+ GELU, 5 layer norms\./ ||
        log =~ /Inference in bfloat16; fused ops: 2 dense layers \+ GELU, 5 layer norms; 14 dense layers with packed weights; 2 stretches between fused layers run in bfloat16\./
} else {
    assert log =~ /Inference in \w+(; fused ops: [^;.]+)?; not fused: .+\./
}
return true

// Every family trained, passed its gate, predicted every test row, and exported a SavedModel that TensorFlow Java
// reloads on its own to the probabilities the plugin recorded; the log names the tokenizer and pooling chosen.
import groovy.json.JsonSlurper
import org.tensorflow.SavedModelBundle
import org.tensorflow.ndarray.Shape
import org.tensorflow.ndarray.buffer.DataBuffers
import org.tensorflow.types.TInt32

def expected = [
    'bert-keras'      : [tokenizer: 'vocab.txt',      kind: 'WordPiece (vocab.txt',               pooling: 'pooled (auto)', segments: true],
    'roberta-keras'   : [tokenizer: 'tokenizer.json', kind: 'byte-level BPE (tokenizer.json',     pooling: 'cls (auto)',    segments: false],
    'gpt-keras'       : [tokenizer: 'tokenizer.json', kind: 'byte-level BPE (tokenizer.json',     pooling: 'last (auto)',   segments: false],
    'gpt-ids-only'    : [tokenizer: 'tokenizer.json', kind: 'byte-level BPE (tokenizer.json',     pooling: 'last (auto)',   segments: false],
    'albert-keras'    : [tokenizer: 'spiece.model',   kind: 'Unigram (SentencePiece spiece.model', pooling: 'pooled (auto)', segments: true],
    'distilbert-keras': [tokenizer: 'tokenizer.json', kind: 'WordPiece (tokenizer.json',          pooling: 'cls (auto)',    segments: false],
    'bert-garden'     : [tokenizer: 'vocab.txt',      kind: 'WordPiece (vocab.txt',               pooling: 'pooled (auto)', segments: true],
]
def json = new JsonSlurper()
def log = new File(basedir, 'build.log').text
def testRows = new File(sharedDir, 'data/tiny-sentiment-test.csv').readLines().size() - 1

expected.each { family, e ->
    def out = new File(basedir, "$family/target/finetune")
    ["saved_model/saved_model.pb", "saved_model/assets/${e.tokenizer}", e.tokenizer, 'labels.json', 'training-history.json',
     'reload-check.json', 'evaluation.json', 'predictions.csv'].each {
        assert new File(out, it).isFile() : "$family: missing target/finetune/$it"
    }
    def labels = json.parse(new File(out, 'labels.json'))
    assert labels.tokenizer == e.tokenizer : "$family: labels.json names tokenizer ${labels.tokenizer}"
    def history = json.parse(new File(out, 'training-history.json'))
    def first = history.steps[0..2]*.loss.sum() / 3
    def last = history.steps[-3..-1]*.loss.sum() / 3
    assert last < first / 2 : "$family: loss fell only from $first to $last"
    def evaluation = json.parse(new File(out, 'evaluation.json'))
    assert evaluation.passed && evaluation.accuracy >= 0.85 : "$family: test accuracy ${evaluation.accuracy}"
    assert new File(out, 'predictions.csv').readLines().size() == testRows + 1 : "$family: predictions.csv rows"
    assert log.contains("pooling ${e.pooling}") : "$family: the log does not say pooling ${e.pooling}"
    assert log.contains("Tokenizer: ${e.kind}") : "$family: the log does not name the tokenizer ${e.kind}"
    if (family == 'gpt-ids-only') {
        assert log.contains('The model takes no attention mask') : "$family: the log does not say the model takes no mask"
    }

    def check = json.parse(new File(out, 'reload-check.json'))
    def shape = Shape.of(check.rows as long, check.length as long)
    def bundle = SavedModelBundle.load(new File(out, 'saved_model').path, 'serve')
    try {
        def sig = bundle.metaGraphDef().getSignatureDefOrThrow('serving_default')
        def inputs = e.segments ? ['input_ids', 'input_mask', 'segment_ids'] : ['input_ids', 'input_mask']
        assert sig.inputsMap.keySet() == inputs as Set : "$family: exported inputs ${sig.inputsMap.keySet()}"
        def tensors = inputs.collect { TInt32.tensorOf(shape, DataBuffers.of(check[it] as int[], true, false)) }
        def runner = bundle.session().runner()
        inputs.eachWithIndex { k, i -> runner.feed(sig.getInputsOrThrow(k).name, tensors[i]) }
        def result = runner.fetch(sig.getOutputsOrThrow('probabilities').name).run()
        def probs = result.get(0)
        for (int r = 0; r < check.rows; r++) {
            for (int c = 0; c < 2; c++) {
                float got = probs.getFloat(r as long, c as long)
                assert Math.abs(got - (check.probabilities[r][c] as float)) < 1e-5 : "$family row $r class $c: $got vs ${check.probabilities[r][c]}"
            }
        }
        result.close()
        tensors*.close()
    } finally {
        bundle.close()
    }
}
return true

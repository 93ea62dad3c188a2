// Checks every produced file, then reloads the exported SavedModel with TensorFlow Java on its own and
// compares its predictions with those the plugin recorded at export time.
import groovy.json.JsonSlurper
import org.tensorflow.SavedModelBundle
import org.tensorflow.ndarray.Shape
import org.tensorflow.ndarray.buffer.DataBuffers
import org.tensorflow.types.TInt32

def out = new File(basedir, 'target/finetune')
['saved_model/saved_model.pb', 'saved_model/variables/variables.index', 'saved_model/assets/vocab.txt',
 'saved_model/assets/labels.json', 'labels.json', 'vocab.txt', 'finetune-config.json', 'training-history.json',
 'reload-check.json'].each { assert new File(out, it).isFile() : "missing target/finetune/$it" }

def json = new JsonSlurper()
assert json.parse(new File(out, 'labels.json')).labels == ['negative', 'positive']
def history = json.parse(new File(out, 'training-history.json'))
assert history.epochs.size() == 8
assert history.steps.size() == history.epochs[-1].step
def first = history.steps[0..2]*.loss.sum() / 3
def last = history.steps[-3..-1]*.loss.sum() / 3
assert last < first / 2 : "loss fell only from $first to $last"
assert history.epochs[-1].validationAccuracy > 0.9 : "validation accuracy ${history.epochs[-1].validationAccuracy}"
def config = json.parse(new File(out, 'finetune-config.json'))
assert config.epochs == 8 && config.learningRate == 0.003

def check = json.parse(new File(out, 'reload-check.json'))
def shape = Shape.of(check.rows as long, check.length as long)
def bundle = SavedModelBundle.load(new File(out, 'saved_model').path, 'serve')
try {
    def sig = bundle.metaGraphDef().getSignatureDefOrThrow('serving_default')
    assert sig.inputsMap.keySet() == ['input_ids', 'input_mask', 'segment_ids'] as Set
    def tensors = ['input_ids', 'input_mask', 'segment_ids'].collect {
        TInt32.tensorOf(shape, DataBuffers.of(check[it] as int[], true, false))
    }
    def runner = bundle.session().runner()
    ['input_ids', 'input_mask', 'segment_ids'].eachWithIndex { k, i -> runner.feed(sig.getInputsOrThrow(k).name, tensors[i]) }
    def result = runner.fetch(sig.getOutputsOrThrow('probabilities').name).run()
    def probs = result.get(0)
    assert probs.shape().asArray() == [check.rows as long, 2L] as long[]
    for (int r = 0; r < check.rows; r++) {
        for (int c = 0; c < 2; c++) {
            float got = probs.getFloat(r as long, c as long)
            assert Math.abs(got - (check.probabilities[r][c] as float)) < 1e-5 : "row $r class $c: $got vs ${check.probabilities[r][c]}"
        }
    }
    result.close()
    tensors*.close()
} finally {
    bundle.close()
}

def log = new File(basedir, 'build.log').text
assert log.contains('epoch 8/8 done') && log.contains('examples/s') && log.contains('ETA')
return true

// The recipe options set in the pom reach the run: finetune-config.json records them, the history counts optimizer
// steps of effective batches, the hidden head layers are in the exported model that evaluate and predict ran, and
// -Dfinetune.classWeights=auto works from the command line.
import groovy.json.JsonSlurper

def out = new File(basedir, 'target/finetune')
def slurp = { f -> new JsonSlurper().parse(f) }
def config = slurp(new File(out, 'finetune-config.json'))
assert config.headLayers == '16,8' && config.headActivation == 'relu'
assert config.classWeights == [positive: 2.0]
assert config.classWeightsUsed == [negative: 1.0, positive: 2.0]
assert config.labelSmoothing == 0.1
assert config.batchSize == 8 && config.gradientAccumulationSteps == 2

// 192 training examples in effective batches of 8 × 2: 12 optimizer steps an epoch, each of 16 examples.
def history = slurp(new File(out, 'training-history.json'))
assert history.steps.size() == 10 * 12
assert history.steps.every { it.examples == 16 }
assert history.epochs.size() == 10 && history.epochs[-1].step == 120

// The hidden layers are in the exported graph and among the variables its saver restores (names in plain text in the
// protobuf); the optimizer and the gradient sums are not.
def graph = new File(out, 'saved_model/saved_model.pb').getText('ISO-8859-1')
['finetune_head/hidden_0/kernel', 'finetune_head/hidden_1/bias', 'finetune_head/kernel'].each { assert graph.contains(it) }
assert !graph.contains('finetune_adam') && !graph.contains('finetune_accumulate') : 'training ops do not belong in the model'

def evaluation = slurp(new File(out, 'evaluation.json'))
assert evaluation.examples == 80 && evaluation.accuracy >= 0.85 && evaluation.passed
def rows = new File(out, 'predictions.csv').readLines()
assert rows[0] == 'line,predicted,probability,p_negative,p_positive' && rows.size() == 81

def log = new File(basedir, 'build.log').text
assert log.contains('Head: hidden layers 16,8 (relu, dropout 0.1 after each), then the output layer.')
assert log.contains('Gradient accumulation: 2 batches of 8 per optimizer step, an effective batch of 16.')
assert log.contains('Class weights (positive=2.0): negative=1.000, positive=2.000.')

// Second invocation: the property sets auto; the training data is balanced, so every class weighs 1.
def auto = slurp(new File(basedir, 'target/finetune-auto/finetune-config.json'))
assert auto.classWeights == 'auto'
assert auto.classWeightsUsed == [negative: 1.0, positive: 1.0]
assert auto.headLayers == '16,8' && auto.labelSmoothing == 0.1
return true

// Evaluates a model trained by another build, without training: no epoch in the log, reports here.
import groovy.json.JsonSlurper

def log = new File(basedir, 'build.log').text
assert !log.contains('epoch 1/') : 'evaluate must not train'
assert log.contains('Evaluated 80 examples')
def json = new JsonSlurper().parse(new File(basedir, 'target/finetune/evaluation.json'))
// Named relative to this project (the reports travel with the model and should not tell where it was built).
assert json.modelDirectory == '../setup-trained-model/target/finetune'
assert json.accuracy >= 0.9 && json.passed
assert !new File(basedir, 'target/finetune/saved_model').exists()
return true

// Evaluates a model trained by another build, without training: no epoch in the log, reports here.
import groovy.json.JsonSlurper

def log = new File(basedir, 'build.log').text
assert !log.contains('epoch 1/') : 'evaluate must not train'
assert log.contains('Evaluated 80 examples')
def json = new JsonSlurper().parse(new File(basedir, 'target/finetune/evaluation.json'))
assert json.modelDirectory.endsWith('setup-trained-model' + File.separator + 'target' + File.separator + 'finetune')
assert json.accuracy >= 0.9 && json.passed
assert !new File(basedir, 'target/finetune/saved_model').exists()
return true

// Validation accuracy of the random encoder stays at chance at first: with patience 1 training stops early,
// before the last of its 10 epochs, and the best validation's weights are exported.
import groovy.json.JsonSlurper

def log = new File(basedir, 'build.log').text
assert log =~ /Stopping early at step \d+: validation accuracy has not improved/
assert !log.contains('epoch 10/10')
def history = new JsonSlurper().parse(new File(basedir, 'target/finetune/training-history.json'))
assert history.stoppedEarly
assert history.epochs.size() < 10
def best = history.validations.findAll { it.best }.last()
assert history.exportedStep == best.step
assert new File(basedir, 'target/finetune/saved_model/saved_model.pb').isFile()
return true

// The installed model archive was resolved by coordinates and fine-tuned again with a new head: its first epoch
// already validates well, because the encoder under it was fine-tuned for this task.
import groovy.json.JsonSlurper

def log = new File(basedir, 'build.log').text
assert log.contains('Resolved dev.finetune.it:installed-model:zip:model:1.0 to ')
assert log.contains('installed-model-1.0-model.zip')
def history = new JsonSlurper().parse(new File(basedir, 'target/finetune/training-history.json'))
assert history.epochs[0].validationAccuracy > 0.9
return true

// The model came from the (integration) local repository by coordinates, the train goal ran in the
// process-classes phase of a plain `mvn verify`, and it read JSON Lines with custom field names.
import groovy.json.JsonSlurper

def log = new File(basedir, 'build.log').text
assert log.contains('Resolved dev.finetune.it:tiny-bert-model:1.0 to ') : 'model not resolved by coordinates'
assert log.contains('tiny-bert-model-1.0.jar')
assert log.contains('(TF1 graph), 39 encoder variables')
def out = new File(basedir, 'target/finetune')
assert new File(out, 'saved_model/saved_model.pb').isFile()
def history = new JsonSlurper().parse(new File(out, 'training-history.json'))
assert history.epochs.size() == 2
assert history.epochs.every { it.validationExamples == 6 }
def config = new JsonSlurper().parse(new File(out, 'finetune-config.json'))
assert config.textColumn == 'review' && config.labelColumn == 'sentiment'
// Recorded by its coordinates, not by its path in the builder's local repository.
assert config.model == 'dev.finetune.it:tiny-bert-model:1.0'
assert config.trainFile == 'reviews.jsonl'
return true

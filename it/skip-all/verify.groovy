// -Dfinetune.skip skips every goal: nothing is trained, evaluated or predicted. Then -DskipTests skips only
// evaluate: the model is trained but not tested.
def log = new File(basedir, 'build.log').text
def runs = log.split(/BUILD SUCCESS/)
assert runs[0].contains('Skipping fine-tuning (finetune.skip).')
assert runs[0].contains('Skipping evaluation (finetune.skip).')
assert runs[0].contains('Skipping prediction (finetune.skip).')
assert runs[1].contains('Fine-tuned model written to') && runs[1].contains('Skipping evaluation (skipTests).')
assert new File(basedir, 'target/finetune/saved_model/saved_model.pb').isFile()
assert !new File(basedir, 'target/finetune/evaluation.json').exists()
return true

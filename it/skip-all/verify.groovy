// -Dfinetune.skip skips every goal: nothing is trained, evaluated or predicted.
def log = new File(basedir, 'build.log').text
assert log.contains('Skipping fine-tuning (finetune.skip).')
assert log.contains('Skipping evaluation (finetune.skip).')
assert log.contains('Skipping prediction (finetune.skip).')
assert !new File(basedir, 'target/finetune').exists()
return true

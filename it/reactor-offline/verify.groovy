// Both modules trained in one reactor; the offline second build found both up to date.
def log = new File(basedir, 'build.log').text
def builds = log.split(/Reactor Summary for reactor-offline 1\.0:/)
assert builds.size() == 3 : 'expected two reactor builds'
assert (builds[0] =~ /Fine-tuned model written to/).size() == 2
assert builds[0].contains('Evaluated 80 examples')
assert (builds[1] =~ /is up to date/).size() == 2
assert !builds[1].contains('Fine-tuned model written to')
assert !builds[1].contains('Downloading from')
assert new File(basedir, 'sentiment/target/finetune/evaluation.json').isFile()
assert new File(basedir, 'from-coordinates/target/finetune/saved_model/saved_model.pb').isFile()
return true

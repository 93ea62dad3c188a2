// Four builds of one project: trained, up to date (no training), retrained after a setting changed, retrained when forced.
def log = new File(basedir, 'build.log').text
def trained = log.findAll(/Fine-tuned model written to/).size()
def skipped = log.findAll(/is up to date \(data, base model, configuration and plugin unchanged, digest [0-9a-f]{12}\); not training/).size()
assert trained == 3 : "expected 3 trainings, found $trained"
assert skipped == 1 : "expected 1 up-to-date build, found $skipped"
def runs = log.split(/Fine-tuning .* on /)
assert runs.size() == 5
assert runs[2].contains('is up to date') && !runs[2].contains('epoch 1/2')
assert runs[3].contains('epoch 2/2 done') && runs[4].contains('epoch 2/2 done')
def times = (log =~ /Total time:\s+([0-9.]+) s/).collect { it[1] as double }
println "up-to-date build times (s): $times"
assert new File(basedir, 'target/finetune/finetune-digest.txt').isFile()
return true

// The build trained and exported under a 40 MB Maven heap, and JavaCPP's memory cap never fired.
def out = new File(basedir, 'target/finetune')
['saved_model/saved_model.pb', 'saved_model/variables/variables.index', 'labels.json', 'training-history.json',
 'reload-check.json'].each { assert new File(out, it).isFile() : "missing target/finetune/$it" }
def log = new File(basedir, 'build.log').text
assert !log.contains('Physical memory usage is too high')

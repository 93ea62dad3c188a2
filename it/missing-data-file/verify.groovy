// The build fails with one sentence naming the missing file, and leaves no output behind.
def log = new File(basedir, 'build.log').text
def expected = new File(basedir, 'src/data/no-such-file.csv').path + ' does not exist.'
assert log.contains('Data file ' + expected) : "build.log lacks: Data file $expected"
assert !new File(basedir, 'target/finetune').exists()
return true

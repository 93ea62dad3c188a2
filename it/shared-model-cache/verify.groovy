// The archive was unpacked once for two projects, survived `mvn clean`, and clean-cache removed it.
def log = new File(basedir, 'build.log').text
def builds = log.split(/Reactor Summary for shared-model-cache 1\.0:/)
assert builds.size() == 3 : 'expected two reactor builds before clean-cache'
def unpacks = { String text -> (text =~ /Unpacking tiny-bert-model-1\.0\.jar into the model cache /).size() }
assert unpacks(builds[0]) == 1 : 'two projects, one unpack'
assert (builds[0] =~ /Fine-tuned model written to/).size() == 2
assert unpacks(builds[1]) == 0 : 'mvn clean kept the unpacked model'
assert (builds[1] =~ /Fine-tuned model written to/).size() == 2
assert !new File(basedir, 'first/target/finetune-work/model-cache').exists()

def cleaned = builds[2]
assert cleaned =~ /Deleted tiny-bert-model-1\.0\.jar-[0-9a-f]{32}, [0-9.]+ MB/
assert cleaned.contains('Emptied the model cache ')
def cache = new File(basedir, 'model-cache')
assert cache.isDirectory() && cache.list().length == 0 : "left in the cache: ${cache.list()}"
return true

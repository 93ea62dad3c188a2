// TensorFlow writes its log to the process's standard error, past Maven. The plugin routes it through Maven's logger:
// by default no information line of TensorFlow's may reach the build log; with -X each comes as [DEBUG].
def log = new File(basedir, 'build.log').text
def tfHeader = ~/(?m)^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] |[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ )/
assert !(log =~ tfHeader).find() : "a raw TensorFlow log line reached the build log:\n" + (log =~ /(?m)^.*(\.cc:\d+\]).*$/).collect { it[0] }.take(5).join('\n')
assert !log.contains('All log messages before absl::InitializeLog()') || log.contains('[DEBUG] TensorFlow: WARNING: All log messages')

// The quiet first build: the plugin's own lines, TensorFlow's information nowhere.
def builds = log.split(/(?m)^\[INFO\] Scanning for projects\.\.\./)
assert builds.size() >= 2 : "expected the log of two invocations, got ${builds.size() - 1}"
def quiet = builds[1]
assert quiet.contains('[INFO] Fine-tuned model written to') && quiet.contains('[INFO] Gate') || quiet.contains('Evaluated')
assert !quiet.contains('TensorFlow: ') : quiet.readLines().findAll { it.contains('TensorFlow: ') }.take(5).join('\n')
assert !quiet.contains('reader.cc') && !quiet.contains('loader.cc')

// With -X: TensorFlow's records as Maven debug lines, with the file they come from.
def verbose = builds[-1]
// Graph optimisation logs on every first run; then either TensorFlow's SavedModel loader (float32) or, where the
// model is served in bfloat16 with its weights stored so, the mixed-precision rewrite that the runtime's own load runs.
assert verbose.contains('[DEBUG] TensorFlow: mlir_graph_optimization_pass.cc') : 'no graph optimisation line at -X'
assert verbose.contains('[DEBUG] TensorFlow: tensorflow/cc/saved_model/loader.cc') || verbose.contains('[DEBUG] TensorFlow: auto_mixed_precision.cc') :
        'neither a SavedModel loader line nor a mixed-precision line at -X'
assert new File(basedir, 'target/finetune/evaluation.json').isFile()
return true

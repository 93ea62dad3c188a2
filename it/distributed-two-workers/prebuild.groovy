// Starts worker 1 of the cluster: the same pom, built by a second Maven (the one running the Invoker) with the
// Invoker's local repository, offline, in the background. Its log goes to worker-1.log beside the pom.
// The Invoker's repository records which remote each artifact came from, and an offline build refuses artifacts from
// a remote it does not know: reading another (absent) record file makes them plain local artifacts.
def mvn = new File(System.getProperty('maven.home'), 'bin/mvn' + (System.getProperty('os.name').startsWith('Windows') ? '.cmd' : ''))
def log = new File(basedir, 'worker-1.log')
def command = [mvn.path, '-B', '-o', "-Dmaven.repo.local=${localRepositoryPath}",
               '-Daether.enhancedLocalRepository.trackingFilename=_none_', 'finetune:train', '-Dfinetune.workerIndex=1']
def pb = new ProcessBuilder(command.collect { it.toString() }).directory(basedir).redirectErrorStream(true)
pb.redirectOutput(log)
pb.start()
println "Started worker 1: ${command.join(' ')} > ${log}"
return true

// The model jar, as an application receives it: listed, indexed, every file intact and the same bytes when packed
// again; the application's tests ran against it; and its dependencies hold no Maven.
import java.security.MessageDigest
import java.time.LocalDateTime
import java.util.zip.ZipFile

def sha256 = { byte[] b -> MessageDigest.getInstance('SHA-256').digest(b).encodeHex().toString() }

def jarFile = new File(basedir, 'model/target/sentiment-model-1.0-model.jar')
assert jarFile.isFile() : "no $jarFile"
def jar = new ZipFile(jarFile)
def bytesOf = { String name ->
    def e = jar.getEntry(name)
    assert e != null : "$jarFile has no $name"
    jar.getInputStream(e).bytes
}
assert new String(bytesOf('META-INF/finetune/models.list'), 'UTF-8') == 'sentiment-model\n'

// The index: sha-256, size and path of every file, sorted by path; each file in the jar is what train wrote.
def root = 'META-INF/finetune/models/sentiment-model/'
def index = new String(bytesOf(root + 'index.txt'), 'UTF-8').readLines()
def paths = index.collect { it.split(' ', 3)[2] }
assert paths == paths.sort(false)
['saved_model/saved_model.pb', 'saved_model/variables/variables.index', 'saved_model/variables/variables.data-00000-of-00001',
 'saved_model/assets/vocab.txt', 'labels.json', 'vocab.txt', 'finetune-config.json'].each {
    assert paths.contains(it) : "the index lacks $it: $paths"
}
['training-history.json', 'reload-check.json', 'evaluation.json', 'finetune-digest.txt'].each {
    assert !paths.contains(it) : "$it is not for applications"
}
index.each { line ->
    def (sha, size, path) = line.split(' ', 3)
    byte[] inJar = bytesOf(root + 'files/' + path)
    assert inJar.length == (size as long) && sha256(inJar) == sha : "$path does not match its index line"
    assert inJar == new File(basedir, "model/target/finetune/$path").bytes : "$path differs from target/finetune/$path"
}
// One fixed time on every entry, the same in any time zone.
jar.entries().each { assert it.timeLocal == LocalDateTime.of(1980, 2, 1, 0, 0) : "${it.name}: ${it.timeLocal}" }
jar.close()

def log = new File(basedir, 'build.log').text
assert log.contains('Attached them as dev.finetune.it:sentiment-model:zip:model:1.0 and dev.finetune.it:sentiment-model:jar:model:1.0')

// The application's tests ran, and passed.
def report = new File(basedir, 'app/target/surefire-reports/TEST-dev.finetune.it.app.ModelOnClassPathTest.xml')
assert report.isFile() : "no surefire report: did the application's tests run?"
def suite = (report.text =~ /<testsuite [^>]*/)[0]
def attr = { name -> ((suite =~ /\b$name="(\d+)"/)[0][1]) as int }
assert attr('tests') == 2 && attr('failures') == 0 && attr('errors') == 0 && attr('skipped') == 0 : suite

// Everything the application depends on, transitively and in every scope: TensorFlow, not Maven.
def deps = new File(basedir, 'app/target/dependencies.txt').readLines()*.trim().findAll { it =~ /^[\w.-]+:[\w.-]+:/ }
assert deps.any { it.startsWith('dev.finetune:finetune-runtime:jar:') } : deps
assert deps.any { it.startsWith('dev.finetune.it:sentiment-model:jar:model:1.0') } : deps
assert deps.any { it.startsWith('org.tensorflow:tensorflow-core-api:jar:') } : deps
def maven = deps.findAll { it.startsWith('org.apache.maven') || it.contains('plexus') }
assert maven.isEmpty() : "the application depends on Maven: $maven"

// Packed again a while later (the second invocation): the same bytes.
def again = new File(basedir, 'model/target/again/sentiment-model-1.0-model.jar')
assert again.isFile() : 'the second packing did not run'
assert again.bytes == jarFile.bytes : 'packing the same model twice gave different jars'

// The runtime the plugin depends on was installed into the integration repository by invoker:install, not
// copied from the developer's repository, where it may be older.
// Resolver marks an installed file with an empty repository id ("name>="), a downloaded one with the repository's.
def runtimeJars = []
new File(localRepositoryPath, 'dev/finetune/finetune-runtime').eachFileRecurse { if (it.name ==~ /finetune-runtime-[^-]+(-SNAPSHOT)?\.jar/) runtimeJars << it }
assert runtimeJars.size() == 1 : "finetune-runtime in $localRepositoryPath: $runtimeJars"
def origin = new File(runtimeJars[0].parentFile, '_remote.repositories').readLines()
assert origin.contains(runtimeJars[0].name + '>=') : "finetune-runtime was not installed by invoker:install: $origin"
return true

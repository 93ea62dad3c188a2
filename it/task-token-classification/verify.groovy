// task token-classification from the pom: trained on CoNLL, evaluated with entity-level gates on JSON Lines, used
// to predict a tag per word, and packaged.
import groovy.json.JsonSlurper

def out = new File(basedir, 'target/finetune')
def slurp = { f -> new JsonSlurper().parse(f) }
def labels = slurp(new File(out, 'labels.json'))
assert labels.task == 'token-classification'
assert labels.labels.contains('O') && labels.labels.contains('B-PER') && labels.labels.contains('I-LOC')

def json = slurp(new File(out, 'evaluation.json'))
assert json.schemaVersion == 1 && json.task == 'token-classification'
assert json.sentences == 120
assert json.micro.f1 >= 0.85 && json.macro.f1 >= 0.8 && json.tokenAccuracy >= 0.9
assert json.perType*.type.containsAll(['LOC', 'PER'])
assert json.gates*.name as Set == ['minimumAccuracy', 'minimumMicroF1', 'minimumMacroF1', 'minimumClassF1.LOC'] as Set
assert json.gates.every { it.passed } && json.passed

// One row per word of the CoNLL input, in order, with its tag.
def rows = new File(out, 'predictions.csv').readLines()
assert rows[0] == 'line,word,token,predicted,probability'
def words = new File(sharedDir, 'data/tiny-ner-test.conll').readLines()
        .findAll { !it.isBlank() && !it.startsWith('-DOCSTART-') }
assert rows.size() == words.size() + 1
int right = 0
// CSV cells: a word such as "," comes quoted.
def cells = { String r -> (r =~ /("([^"]|"")*"|[^,]*)(,|$)/).findAll { it[0] != '' }.collect { m ->
    def c = m[1]
    c.startsWith('"') ? c[1..-2].replace('""', '"') : c
} }
rows[1..-1].eachWithIndex { r, i ->
    def f = cells(r)
    def columns = words[i].split(' ')
    assert f[2] == columns[0]
    right += f[3] == columns[-1] ? 1 : 0
}
assert right / words.size() >= 0.9 : "${right} of ${words.size()} words tagged right"
assert json.tokens == words.size()

def zip = new java.util.zip.ZipFile(new File(basedir, 'target/task-token-classification-1.0-model.zip'))
assert new JsonSlurper().parse(zip.getInputStream(zip.getEntry('labels.json'))).task == 'token-classification'
return true

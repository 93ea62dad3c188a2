// task multi-label from the pom: trained, evaluated with gates, used to predict and packaged; each file says so.
import groovy.json.JsonSlurper

def out = new File(basedir, 'target/finetune')
def slurp = { f -> new JsonSlurper().parse(f) }
def labels = slurp(new File(out, 'labels.json'))
assert labels.task == 'multi-label'
assert labels.labels == ['books', 'city', 'film', 'music', 'work']
assert labels.thresholds.size() == 5 && labels.thresholds.every { it > 0 && it < 1 }
assert labels.labelSeparator == '|'

def json = slurp(new File(out, 'evaluation.json'))
assert json.schemaVersion == 1 && json.task == 'multi-label'
assert json.examples == 120
assert json.micro.f1 >= 0.9 && json.macro.f1 >= 0.85 && json.subsetAccuracy >= 0.7
assert json.perLabel*.label == ['books', 'city', 'film', 'music', 'work']
assert json.perLabel*.threshold == labels.thresholds
assert json.hammingLoss < 0.1 && json.samples.f1 > 0 && json.weighted.f1 > 0
assert json.gates*.name as Set == ['minimumAccuracy', 'minimumMicroF1', 'minimumMacroF1', 'minimumClassF1.music'] as Set
assert json.gates.every { it.passed } && json.passed

// One row per input row: the labels at or over their thresholds, and a score per label.
def rows = new File(out, 'predictions.csv').readLines()
assert rows[0] == 'line,predicted,p_books,p_city,p_film,p_music,p_work'
assert rows.size() == 121
def input = new File(sharedDir, 'data/tiny-topics-test.csv').readLines()
int exact = 0
rows[1..-1].each { r ->
    def f = r.split(',', -1)
    def scores = f[2..6]*.toDouble()
    def predicted = (0..4).findAll { scores[it] >= labels.thresholds[it] }.collect { labels.labels[it] }.join('|')
    assert f[1] == predicted
    // The labels are the file's last column (texts may hold quoted commas), listed in any order; the predictions
    // list them in the model's label order.
    def truth = input[(f[0] as int) - 1].split(',', -1)[-1].split(/\|/).findAll { it } as Set
    exact += truth == (predicted.split(/\|/).findAll { it } as Set) ? 1 : 0
}
assert exact >= 84 : "only ${exact} of 120 label sets predicted exactly"

def zip = new java.util.zip.ZipFile(new File(basedir, 'target/task-multi-label-1.0-model.zip'))
def packed = new JsonSlurper().parse(zip.getInputStream(zip.getEntry('labels.json')))
assert packed.task == 'multi-label' && packed.thresholds == labels.thresholds
assert zip.getEntry('saved_model/saved_model.pb') != null
return true

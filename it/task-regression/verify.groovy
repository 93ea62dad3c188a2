// task regression from the pom: trained (Huber loss, standardised target), evaluated with every regression gate,
// used to predict in the target's own units, and packaged.
import groovy.json.JsonSlurper

def out = new File(basedir, 'target/finetune')
def slurp = { f -> new JsonSlurper().parse(f) }
def labels = slurp(new File(out, 'labels.json'))
assert labels.task == 'regression' && labels.labels == ['score']
assert labels.targetScale > 0 && labels.targetMean != null
assert slurp(new File(out, 'finetune-config.json')).regressionLoss == 'huber'

def json = slurp(new File(out, 'evaluation.json'))
assert json.schemaVersion == 1 && json.task == 'regression' && json.target == 'score'
assert json.examples == 120 && json.points.size() == 120
assert json.rmse <= 0.5 && json.mae <= 0.4 && json.r2 >= 0.8 && json.spearman >= 0.9
assert json.gates*.name as Set == ['maximumRmse', 'maximumMae', 'minimumR2', 'minimumPearson', 'minimumSpearman'] as Set
assert json.gates.every { it.passed } && json.passed

// Predictions in the score's units: their RMSE against the file is the evaluation's.
def rows = new File(out, 'predictions.csv').readLines()
assert rows[0] == 'line,prediction' && rows.size() == 121
def input = new File(sharedDir, 'data/tiny-scores-test.csv').readLines()
double squared = 0
rows[1..-1].each { r ->
    def f = r.split(',')
    def truth = input[(f[0] as int) - 1].split(',')[-1] as double
    squared += Math.pow((f[1] as double) - truth, 2)
}
assert Math.abs(Math.sqrt(squared / 120) - json.rmse) < 1e-3

def zip = new java.util.zip.ZipFile(new File(basedir, 'target/task-regression-1.0-model.zip'))
assert new JsonSlurper().parse(zip.getInputStream(zip.getEntry('labels.json'))).task == 'regression'
return true

// The chief (this build) wrote the model; worker 1 (started by prebuild.groovy) trained with it and wrote nothing.
import groovy.json.JsonSlurper

def log = new File(basedir, 'worker-1.log')
// Worker 1 ends with the chief's last step; give its JVM a moment to finish.
for (int i = 0; i < 120 && !(log.text =~ /BUILD (SUCCESS|FAILURE)/); i++) {
    Thread.sleep(1000)
}
def worker1 = log.text
assert worker1.contains('BUILD SUCCESS') : "worker 1 failed:\n$worker1"
assert worker1.contains('Worker 1 of 2: each step\'s batch of 16 is shared by 2 workers, 8 each')
assert worker1.contains('Worker 1 is done; the chief, worker 0 (127.0.0.1:47611), writes the model.')

def chief = new File(basedir, 'build.log').text
assert chief.contains('Worker 0 of 2 (the chief)')
assert chief.contains('All 2 workers are here and start from step 0.')

def out = new File(basedir, 'target/finetune')
['saved_model/saved_model.pb', 'saved_model/variables/variables.index', 'labels.json', 'finetune-config.json',
 'training-history.json', 'reload-check.json'].each { assert new File(out, it).isFile() : "missing target/finetune/$it" }
def history = new JsonSlurper().parse(new File(out, 'training-history.json'))
// 192 training rows in global batches of 8 × 2 workers: 12 steps an epoch, each of 16 examples.
assert history.steps.size() == 8 * 12
assert history.steps*.examples.every { it == 16 }
def first = history.steps[0..2]*.loss.sum() / 3
def last = history.steps[-3..-1]*.loss.sum() / 3
assert last < first / 2 : "loss fell only from $first to $last"
assert history.epochs[-1].validationAccuracy > 0.9 : "validation accuracy ${history.epochs[-1].validationAccuracy}"
// Both workers validated the same weights after every epoch: the same numbers in both logs.
def epochLines = { text -> (text =~ /epoch \d\/8 done in [0-9:]+: (train loss .*)/).collect { it[1] } }
assert epochLines(worker1) == epochLines(chief) && epochLines(chief).size() == 8
return true

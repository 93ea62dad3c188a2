// A grid search of 4 trials: a ranked leaderboard, the best trial exported as the model, its values printed as a
// pom snippet, and the evaluation page showing the leaderboard.
import groovy.json.JsonSlurper

def out = new File(basedir, 'target/finetune')
def board = new JsonSlurper().parse(new File(out, 'leaderboard.json'))
assert board.strategy == 'grid' && board.combinations == 4
assert board.trials.size() == 4
assert board.trials*.rank == [1, 2, 3, 4]
def scores = board.trials*.score
assert scores == scores.sort(false)
assert board.best.values.learningRate == 0.003 && board.best.values.epochs == 6
def config = new JsonSlurper().parse(new File(out, 'finetune-config.json'))
assert config.learningRate == 0.003 && config.epochs == 6
def log = new File(basedir, 'build.log').text
assert log.contains('<learningRate>0.003</learningRate>') && log.contains('<epochs>6</epochs>')
assert (log =~ /Trial \d\/4: /).size() == 4
def html = new File(out, 'evaluation.html').text
assert html.contains('Hyperparameter search') && html.contains('grid search, 4 trials of 4 combinations')
return true

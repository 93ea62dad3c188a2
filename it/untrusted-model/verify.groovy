// evaluate and predict refuse a model whose serving function writes a file, naming the op and <allowUnsafeOps>,
// and nothing runs: the model's relative file is not in the working directory, and no report or prediction is written.
def log = new File(basedir, 'build.log').text
['evaluate', 'predict'].each { goal ->
    def refused = ~("\\[ERROR\\] Failed to execute goal \\S+:${goal} \\(default-cli\\) on project untrusted-model: The model in "
            + /\S+untrusted-finetuned.saved_model runs operations that touch the file system or the network or run code, beside / +
            /its own variable restore: WriteFile \(file system\) at node '[^']+\/WriteFile'\. Running it could read or write / +
            /files on this machine\. If you trust the model, accept these op types with <allowUnsafeOps>: WriteFile\./)
    assert log.find(refused) : "build.log lacks the refusal by finetune:${goal}"
}
assert !log.contains('Inference in ') : 'TensorFlow loaded the model'
assert !new File(basedir, 'finetune-untrusted-was-here.txt').exists() : 'the model ran and wrote its file'
assert !new File(basedir, 'target/finetune/evaluation.json').exists()
assert !new File(basedir, 'target/finetune/predictions.csv').exists()
return true

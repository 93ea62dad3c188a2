// The model archive was packed, attached and installed with the classifier "model".
import java.util.zip.ZipFile

def archive = new File(basedir, 'target/installed-model-1.0-model.zip')
assert archive.isFile()
def names = new ZipFile(archive).withCloseable { z -> z.entries().collect { it.name } }
assert names.containsAll(['saved_model/saved_model.pb', 'saved_model/variables/variables.index', 'labels.json', 'vocab.txt',
                          'training-history.json', 'finetune-config.json'])
assert new File(basedir, 'build.log').text =~ /Installing .*installed-model-1\.0-model\.zip to .*installed-model-1\.0-model\.zip/
return true

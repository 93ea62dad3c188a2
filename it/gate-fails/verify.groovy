// A violated gate fails the build with one sentence naming the metric, the limit and the value, after the
// reports (which record the failure) have been written.
import groovy.json.JsonSlurper

def log = new File(basedir, 'build.log').text
def m = log =~ /Quality gates failed: accuracy is (\d\.\d{4}), which violates the minimum limit of 0\.9500\./
assert m.find() : 'no gate failure message in build.log'
def out = new File(basedir, 'target/finetune')
def json = new JsonSlurper().parse(new File(out, 'evaluation.json'))
assert !json.passed && json.gates.size() == 1 && !json.gates[0].passed
assert String.format(Locale.ROOT, '%.4f', json.accuracy) == m.group(1)
def junit = javax.xml.parsers.DocumentBuilderFactory.newInstance().newDocumentBuilder()
        .parse(new File(out, 'TEST-finetune-quality-gates.xml')).documentElement
assert junit.getAttribute('failures') == '1'
assert junit.getElementsByTagName('failure').item(0).getAttribute('message').contains('violates the minimum limit of 0.9500')
assert new File(out, 'evaluation.html').text.contains('1 of 1 quality gates failed')
return true

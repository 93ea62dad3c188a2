// finetune:predict on a TSV file: one CSV row per input row with the line, the label and every probability.
def rows = new File(basedir, 'target/finetune/predictions.csv').readLines()
assert rows[0] == 'line,predicted,probability,p_negative,p_positive'
assert rows.size() == 6
assert rows[1..-1]*.split(',')*.getAt(0) == ['2', '3', '4', '5', '6']
assert rows[1..-1]*.split(',')*.getAt(1) == ['positive', 'negative', 'positive', 'negative', 'positive']
rows[1..-1].each { r ->
    def f = r.split(',')
    assert Math.abs((f[3] as double) + (f[4] as double) - 1) < 1e-5
    assert (f[2] as double) == Math.max(f[3] as double, f[4] as double)
}
assert new File(basedir, 'build.log').text.contains('Predicted 5 rows of')
assert new File(basedir, 'build.log').text.contains('each at most 24 padded tokens and 128 rows (inferenceBatchTokens 24)')
return true

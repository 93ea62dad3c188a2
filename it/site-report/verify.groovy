// The site has the evaluation as a project report, linking to the full evaluation page copied beside it.
def page = new File(basedir, 'target/site/finetune-evaluation.html')
assert page.isFile() : 'no report page in the site'
def html = page.text
assert html.contains('Fine-tuned model evaluation') && html.contains('80 examples from test.csv; every quality gate passed.')
assert html.contains('macro F1') && html.contains('accuracy (minimum)') && html.contains('positive')
assert html.contains('href="finetune/evaluation.html"')
def full = new File(basedir, 'target/site/finetune/evaluation.html')
assert full.isFile() && full.text.contains('aria-label="confusion matrix"')
assert new File(basedir, 'target/site/project-reports.html').text.contains('Model evaluation')
return true

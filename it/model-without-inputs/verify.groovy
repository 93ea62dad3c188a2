// The build fails naming the missing input and listing what the model's signature does have.
def log = new File(basedir, 'build.log').text
assert log.contains("has no input or output named 'word_ids' for the token ids") : 'no message about word_ids'
assert log.contains('input_ids (input_ids:0)') && log.contains('input_mask (input_mask:0)') && log.contains('segment_ids (segment_ids:0)') : 'available inputs not listed'
assert !new File(basedir, 'target/finetune').exists()
return true

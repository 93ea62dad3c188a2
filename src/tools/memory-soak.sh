#!/usr/bin/env bash
# Trains the tiny test model for many epochs in one JVM and prints resident memory every few epochs; the figure
# to watch is the memory outside the Java heap (TensorFlow's), which must stay flat.
#   src/tools/memory-soak.sh [epochs]      (default 200; run `mvn -B install -DskipTests -Dinvoker.skip` first)
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -B -q -f plugin/pom.xml test-compile -Dinvoker.skip
cpfile=$(mktemp)
trap 'rm -f "$cpfile"' EXIT
mvn -B -q -f plugin/pom.xml dependency:build-classpath -Dmdep.outputFile="$cpfile" -Dmdep.includeScope=test
cp=$(cat "$cpfile")
java -Xmx128m -Dfinetune.shared.dir="$PWD/src" -cp "plugin/target/test-classes:plugin/target/classes:$cp" \
  dev.finetune.engine.MemorySoak "${1:-200}"

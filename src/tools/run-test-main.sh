#!/usr/bin/env bash
# Runs a main class from the plugin's test sources with the test class path: the tools below are built on it.
#   src/tools/run-test-main.sh [-Xmx...] CLASS [args...]
set -euo pipefail
cd "$(dirname "$0")/../.."
heap=-Xmx1g
if [[ "${1:-}" == -Xmx* ]]; then heap=$1; shift; fi
mvn -B -q install -DskipTests -Dinvoker.skip -pl plugin/finetune-runtime && mvn -B -q -f plugin/finetune-maven-plugin/pom.xml test-compile -Dinvoker.skip
cpfile=$(mktemp)
trap 'rm -f "$cpfile"' EXIT
mvn -B -q -f plugin/finetune-maven-plugin/pom.xml dependency:build-classpath -Dmdep.outputFile="$cpfile" -Dmdep.includeScope=test
java "$heap" -Dfinetune.shared.dir="$PWD/src" -cp "plugin/finetune-maven-plugin/target/test-classes:plugin/finetune-maven-plugin/target/classes:$(cat "$cpfile")" "$@"

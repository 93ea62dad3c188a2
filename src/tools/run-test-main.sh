#!/usr/bin/env bash
# Runs a main class from the plugin's test sources with the test class path: the tools below are built on it.
#   src/tools/run-test-main.sh [-Xmx...] CLASS [args...]
#   src/tools/run-test-main.sh --classpath        prints the class path instead (for scripts that run several JVMs)
# FINETUNE_MVN_OPTS is added to every mvn command (e.g. "-s settings.xml").
set -euo pipefail
cd "$(dirname "$0")/../.."
heap=-Xmx1g
if [[ "${1:-}" == -Xmx* ]]; then heap=$1; shift; fi
read -r -a mvn_opts <<< "${FINETUNE_MVN_OPTS:-}"
mvn -B -q "${mvn_opts[@]}" install -DskipTests -Dinvoker.skip -pl plugin/finetune-runtime >&2
mvn -B -q "${mvn_opts[@]}" -f plugin/finetune-maven-plugin/pom.xml test-compile -Dinvoker.skip >&2
cpfile=$(mktemp)
trap 'rm -f "$cpfile"' EXIT
mvn -B -q "${mvn_opts[@]}" -f plugin/finetune-maven-plugin/pom.xml dependency:build-classpath -Dmdep.outputFile="$cpfile" -Dmdep.includeScope=test >&2
classpath="$PWD/plugin/finetune-maven-plugin/target/test-classes:$PWD/plugin/finetune-maven-plugin/target/classes:$(cat "$cpfile")"
if [[ "${1:-}" == --classpath ]]; then echo "$classpath"; exit 0; fi
java "$heap" -Dfinetune.shared.dir="$PWD/src" -cp "$classpath" "$@"

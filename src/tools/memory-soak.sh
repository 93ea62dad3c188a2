#!/usr/bin/env bash
# Trains the tiny test model for many epochs in one JVM and prints resident memory every few epochs; the figure
# to watch is the memory outside the Java heap (TensorFlow's), which must stay flat.
#   src/tools/memory-soak.sh [epochs]      (default 200)
exec "$(dirname "$0")/run-test-main.sh" -Xmx128m dev.finetune.engine.MemorySoak "${1:-200}"

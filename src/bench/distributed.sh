#!/usr/bin/env bash
# One machine's cores as 1 worker × 2 threads against 2 workers × 1 thread (TensorFlow's gRPC servers and collective
# all-reduce on 127.0.0.1): median seconds per step and examples per second. See src/bench/distributed.md.
#   src/bench/distributed.sh [model] [global batch] [length] [epochs]    model: a folder of src/models (tiny-bert-tf1)
exec "$(dirname "$0")/../tools/run-test-main.sh" -Xmx512m dev.finetune.engine.DistributedBench "$@"

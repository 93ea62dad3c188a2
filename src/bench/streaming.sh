#!/usr/bin/env bash
# Data larger than memory: peak RSS, heap and tokenization throughput against row count, for the tokenized-data cache
# (rows streamed from a memory-mapped file) and, for comparison, every example held in the heap as before. Prints
# figures, asserts nothing. Text: Debian's package descriptions (apt-cache dumpavail), repeated to the row count;
# label: the package's section. Tokenizer: the tiny test model's WordPiece vocabulary.
#   src/bench/streaming.sh [rows ...]          default: 100000 1000000
# FINETUNE_MVN_OPTS is passed to mvn (e.g. "-s settings.xml"); MAX_LENGTH (64) cuts the encodings.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
counts=("$@")
[[ ${#counts[@]} -gt 0 ]] || counts=(100000 1000000)
max_length=${MAX_LENGTH:-64}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp=$("$root/src/tools/run-test-main.sh" --classpath)

apt-cache dumpavail > "$work/avail.txt"
run() {  # heap mode csv cache: one JVM, its peak RSS and the process's own figures
    local out
    out=$(/usr/bin/time -f "rss-kb %M seconds %e" java "$1" -XX:+UseSerialGC -Dfinetune.shared.dir="$root/src" -cp "$cp" \
        dev.finetune.engine.StreamingProcess "$3" "$4" "$2" "$max_length" 2>&1) || { echo "  $2 $1: failed ($(grep -o 'OutOfMemoryError[^\n]*' <<< "$out" | head -1))"; return; }
    local figures rate rss seconds
    figures=$(grep -o 'rows [0-9]* tokens .*' <<< "$out")
    rate=$(grep -o '([0-9]* rows/s)' <<< "$out" || true)
    rss=$(grep -o 'rss-kb [0-9]*' <<< "$out" | cut -d' ' -f2)
    seconds=$(grep -o 'seconds [0-9.]*' <<< "$out" | cut -d' ' -f2)
    printf '  %-7s %-8s %6.1f s  peak RSS %6.0f MB  %s %s\n' "$2" "$1" "$seconds" "$((rss / 1024))" "$figures" "${rate:+tokenized $rate}"
}
for n in "${counts[@]}"; do
    csv="$work/rows-$n.csv"
    python3 - "$work/avail.txt" "$n" "$csv" <<'PY'
import csv, sys
packages, text, section = [], [], None
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    if line.startswith("Section:"):
        section = line.split(":", 1)[1].strip().split("/")[-1]
    elif line.startswith("Description:"):
        text = [line.split(":", 1)[1].strip()]
    elif line.startswith(" ") and text:
        text.append(line.strip().strip("."))
    elif not line.strip() and text:
        packages.append((" ".join(text)[:600], section or "misc"))
        text, section = [], None
n = int(sys.argv[2])
with open(sys.argv[3], "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["text", "label"])
    for i in range(n):
        w.writerow(packages[i % len(packages)])
PY
    echo "$n rows ($(du -m "$csv" | cut -f1) MB of CSV, maxSequenceLength $max_length):"
    run -Xmx256m stream "$csv" "$work/cache-$n"          # tokenizes into the cache
    du -m "$work/cache-$n"/*.examples | awk '{print "  cache file " $1 " MB"}'
    run -Xmx256m stream "$csv" "$work/cache-$n"          # reuses it
    run -Xmx4g memory "$csv" "$work/cache-$n"            # every example held in the heap, as before
done

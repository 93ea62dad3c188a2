#!/usr/bin/env bash
# Resident memory of a Maven build over time, beside its log: what the build was doing when its memory grew, and when
# it reached its peak. For chasing peak memory under Maven (issue 18), where GNU time gives only the peak itself.
#
#   src/tools/rss-timeline.sh -f src/bench/finetune-pom.xml verify -Dfinetune.trainFile=... (any mvn arguments)
#
# Runs `mvn -B <arguments>` with timestamps on its log, reads the JVM's VmRSS and VmHWM (the high-water mark, which
# catches what falls between samples) every INTERVAL seconds (default 0.5), and prints the log's milestones (goals,
# epochs, the written model, evaluation, the result) each with the memory at that moment, then the interval in which
# the high-water mark last rose: the peak. Keeps build.log and samples.txt in OUT (default target/rss-timeline).
set -euo pipefail
out=${OUT:-target/rss-timeline}
interval=${INTERVAL:-0.5}
mkdir -p "$out"
# mvn's launcher script ends in `exec java`, so the pid started here is the build's JVM.
mvn -B "$@" -Dorg.slf4j.simpleLogger.showDateTime=true -Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS \
  > "$out/build.log" 2>&1 &
jvm=$!
: > "$out/samples.txt"
while kill -0 "$jvm" 2> /dev/null; do
  mem=$(awk '/^VmRSS/ {rss = int($2 / 1024)} /^VmHWM/ {hwm = int($2 / 1024)} END {if (rss) print rss, hwm}' \
    "/proc/$jvm/status" 2> /dev/null || true)
  [ -n "$mem" ] && echo "$(date +%T.%3N) $mem" >> "$out/samples.txt"
  sleep "$interval"
done
status=0
wait "$jvm" || status=$?

# Both files start lines with HH:MM:SS.mmm, which sort as text within a day: merge them in time order.
sort -s -k1,1 <(sed -n 's/^\([0-9:.]\{12\}\) \[INFO\] /\1 LOG /p' "$out/build.log") <(sed 's/ / MEM /' "$out/samples.txt") |
awk -v status="$status" '
  $2 == "MEM" { rss = $3; if ($4 > hwm) { rose = $1; before = last; hwm = $4 } ; next }
  $2 == "LOG" {
    line = substr($0, index($0, "LOG ") + 4)
    if (line !~ /^-*$/) last = $1 " " line
    if (line ~ /^--- |epoch [0-9]+\/[0-9]+ done|Fine-tuned model written|^Evaluated|^Inference in|^Reports|^BUILD/)
      printf "%s  RSS %5s MiB  peak so far %5s MiB  %s\n", $1, rss == "" ? "-" : rss, hwm == "" ? "-" : hwm, substr(line, 1, 110)
  }
  END {
    printf "\npeak %d MiB, reached by %s; the last log line before it:\n  %s\n", hwm, rose, before
    if (status != 0) printf "the build failed (exit %d): see build.log\n", status
  }'
exit "$status"

#!/usr/bin/env bash
# Renders an evaluation.html to a PNG with headless Chromium, to look at the report as a person sees it.
#   src/tools/render-report.sh target/finetune/evaluation.html /tmp/evaluation.png [width]
# Needs Debian's chromium (apt-get install chromium). The page is self-contained, so no network is used.
set -euo pipefail
html=$(realpath "$1")
png=$2
width=${3:-1200}
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$profile" --hide-scrollbars \
  --window-size="$width,2400" --screenshot="$png" "file://$html" 2>/dev/null
echo "wrote $png"

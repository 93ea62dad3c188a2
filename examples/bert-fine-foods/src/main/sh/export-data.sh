#!/bin/sh
# Exports the Debian-packaged fine food reviews to CSV (see export-fine-foods.R); says what to install when R is missing.
#   export-data.sh OUT_DIR TRAIN_ROWS TEST_ROWS
set -e
if ! command -v Rscript >/dev/null 2>&1 || ! Rscript -e 'quit(status = !requireNamespace("modeldata", quietly = TRUE))' >/dev/null 2>&1; then
  echo "The example's data comes from Debian's r-cran-modeldata package, which is not installed." >&2
  echo "Install it (as root, or with sudo): apt-get install -y --no-install-recommends r-cran-modeldata" >&2
  exit 1
fi
exec Rscript "$(dirname "$0")/../r/export-fine-foods.R" "$@"

#!/bin/sh
# Exports the Debian-packaged MovieLens ratings to CSV (see export-movie-ratings.R); says what to install when R or
# the package is missing.
#   export-data.sh OUT_DIR MIN_RATINGS
set -e
if ! command -v Rscript >/dev/null 2>&1 || ! Rscript -e 'quit(status = !requireNamespace("dslabs", quietly = TRUE))' >/dev/null 2>&1; then
  echo "The example's data comes from Debian's r-cran-dslabs package, which is not installed." >&2
  echo "Install it (as root, or with sudo): apt-get install -y --no-install-recommends r-cran-dslabs" >&2
  exit 1
fi
exec Rscript "$(dirname "$0")/../r/export-movie-ratings.R" "$@"

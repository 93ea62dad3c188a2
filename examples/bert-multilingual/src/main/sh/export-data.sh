#!/bin/sh
# Exports translated Linux manual pages, which Debian's manpages-XX and manpages-XX-dev packages ship (from the
# manpages-l10n project), as labelled text: the NAME line and the opening words of the DESCRIPTION of each page,
# labelled with the page's section (1 commands, 2 system calls, 3 library calls, 5 file formats, 7 miscellaneous,
# 8 administration commands). Writes OUT_DIR/{train,validation,test}.csv with a fixed, seeded split by page
# (see ../awk/split.awk) and says which package to install when a language's pages are missing.
#   export-data.sh OUT_DIR "LANGUAGES" TRAIN_ROWS VALIDATION_ROWS TEST_ROWS SEED WORDS
# Needs only POSIX sh, awk, gzip, coreutils and dpkg-query (to list the packages' files).
set -eu
out=$1 languages=$2 train=$3 validation=$4 test=$5 seed=$6 words=$7
awkdir=$(dirname "$0")/../awk

# The pages of these packages only: other packages (dpkg, apt, passwd, ...) ship translated pages of their own, and
# taking whatever happens to be installed would make the data differ from machine to machine.
packages=""
for l in $languages; do
  p=manpages-$(printf '%s' "$l" | tr 'A-Z_' 'a-z-')
  packages="$packages $p $p-dev"
done
if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "The example's data is the translated manual pages of Debian's manpages-l10n packages ($packages )," >&2
  echo "and this machine has no dpkg-query to find them: it needs Debian or a derivative (e.g. Ubuntu)." >&2
  exit 1
fi
missing=""
for p in $packages; do
  case $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) in *" installed") ;; *) missing="$missing $p" ;; esac
done
if [ -n "$missing" ]; then
  echo "The example's data is the translated manual pages of Debian's manpages-l10n packages, and$missing" >&2
  echo "are not installed. Install them (as root, or with sudo): apt-get install -y --no-install-recommends$missing" >&2
  exit 1
fi

mkdir -p "$out"
list=$out/.pages.list pages=$out/.pages.tsv
for l in $languages; do
  p=manpages-$(printf '%s' "$l" | tr 'A-Z_' 'a-z-')
  # sections 1 2 3 5 7 8; section 4 (devices) and 6 (games) have too few pages to learn
  dpkg-query -L "$p" "$p-dev" | grep -E "^/usr/share/man/$l/man[123578]/[^/]+\.gz\$" | LC_ALL=C sort -u
done > "$list"
count=0 absent=0
while IFS= read -r f; do
  # regular files only: symbolic links are other names of the same page
  if [ -L "$f" ]; then continue; elif [ -f "$f" ]; then count=$((count + 1)); else absent=$((absent + 1)); fi
done < "$list"
if [ "$count" -eq 0 ] || [ "$absent" -gt 0 ]; then
  echo "The packages$packages are installed, but $absent of their manual pages are not on disk:" >&2
  echo "a path-exclude rule in /etc/dpkg/dpkg.cfg.d/ keeps dpkg from unpacking manual pages, as in many container" >&2
  echo "images. Remove the rule and reinstall them: apt-get install -y --reinstall$packages" >&2
  exit 1
fi

while IFS= read -r f; do
  [ -L "$f" ] && continue
  l=${f#/usr/share/man/}; l=${l%%/*}
  s=${f%/*}; s=${s##*/man}
  printf '.\\" @@page %s %s %s\n' "$l" "$s" "$(basename "$f" .gz)"
  gzip -dc "$f"
done < "$list" | LC_ALL=C awk -v words="$words" -f "$awkdir/manpage-text.awk" > "$pages"

LC_ALL=C awk -v seed="$seed" -v languages="$languages" -v train="$train" -v validation="$validation" -v test="$test" \
  -v out="$out" -f "$awkdir/split.awk" "$pages"
rm -f "$list" "$pages"

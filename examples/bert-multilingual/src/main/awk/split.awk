# Splits the pages of manpage-text.awk's output into test, validation and training rows, and writes the CSV files.
#   awk -v seed=42 -v languages='de fr es pl' -v test=800 -v validation=200 -v train=1200 -v out=DIR -f split.awk pages.tsv
# A page is a manual page name with its section (open.2): its translations into every language go to the same split,
# so no test text is a translation of a training text. Pages are taken in the order of a hash of seed and name (the
# same order on every machine and every run), test first, then validation, then training, each until it holds
# the requested rows; the pages left over are not used. Run it with LC_ALL=C (bytes pass through untouched).

BEGIN {
  FS = "\t"
  for (i = 1; i < 256; i++) ord[sprintf("%c", i)] = i
  label["1"] = "1-commands"; label["2"] = "2-system-calls"; label["3"] = "3-library-calls"
  label["5"] = "5-file-formats"; label["7"] = "7-miscellaneous"; label["8"] = "8-admin-commands"
}

# A seeded polynomial string hash modulo a prime below 2^31 (exact in awk's doubles).
function hash(s,    h, i) {
  h = seed % 2147483629
  for (i = 1; i <= length(s); i++) h = (h * 131 + ord[substr(s, i, 1)]) % 2147483629
  return h
}

function csv(s) { gsub(/"/, "\"\"", s); return "\"" s "\"" }

{ key = $3; if (!(key in rows)) { order[++pages] = key; rows[key] = 0 } line[key, ++rows[key]] = $0 }

END {
  for (p = 1; p <= pages; p++) h[p] = hash(order[p])
  # sort the pages by hash (insertion sort is plenty for a few thousand), ties by name
  for (p = 2; p <= pages; p++) {
    k = order[p]; v = h[p]; q = p - 1
    while (q >= 1 && (h[q] > v || (h[q] == v && order[q] > k))) { order[q + 1] = order[q]; h[q + 1] = h[q]; q-- }
    order[q + 1] = k; h[q + 1] = v
  }
  split("test validation train", names, " ")
  nlangs = split(languages, langs, " ")
  want["test"] = test; want["validation"] = validation; want["train"] = train
  for (s = 1; s <= 3; s++) {
    file[names[s]] = out "/." names[s] ".csv.tmp"
    print "text,section,language,page" > file[names[s]]
  }
  s = 1
  for (p = 1; p <= pages && s <= 3; p++) {
    while (s <= 3 && count[names[s]] >= want[names[s]]) s++
    if (s > 3) break
    key = order[p]
    for (r = 1; r <= rows[key]; r++) {
      split(line[key, r], f, "\t")
      print csv(f[4]) "," label[f[2]] "," f[1] "," csv(f[3]) > file[names[s]]
      count[names[s]]++; bylabel[names[s], label[f[2]]]++; bylang[names[s], f[1]]++
    }
  }
  for (s = 1; s <= 3; s++) {
    close(file[names[s]])
    # renamed into place only when complete, so a build never reads a half-written file
    if (system("mv '" file[names[s]] "' '" out "/" names[s] ".csv'") != 0) exit 1
  }
  for (s = 1; s <= 3; s++) {
    n = names[s]; msg = sprintf("%-10s %4d rows:", n, count[n])
    for (l = 1; l <= 8; l++) if (l "" in label && (n, label[l ""]) in bylabel) msg = msg sprintf(" %s %d", label[l ""], bylabel[n, label[l ""]])
    msg = msg " |"
    for (l = 1; l <= nlangs; l++) msg = msg sprintf(" %s %d", langs[l], bylang[n, langs[l]])
    print msg
  }
}

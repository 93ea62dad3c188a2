# Turns a stream of roff manual pages into one tab-separated line per page:
#   language <TAB> section <TAB> page <TAB> text
# Each page in the stream is preceded by a marker line  .\" @@page LANGUAGE SECTION PAGE  (written by export-data.sh).
# The text is the page's NAME line ("ls - Verzeichnisinhalte auflisten") followed by the opening words of its
# DESCRIPTION, at most `words` words (awk -v words=N). Everything else is left out on purpose: the .TH line and the
# section headers name the section or the manual outright, and the SYNOPSIS and LIBRARY sections (C prototypes,
# "libc, -lc") would let a model tell the developer sections apart without reading any language.
# Run it with LC_ALL=C: the text passes through byte for byte (UTF-8 stays UTF-8) and words are cut at spaces.

function flush() {
  if (page != "" && name != "") {
    text = name
    if (desc != "") text = text " " desc
    n = split(text, w, / +/)
    text = ""
    for (i = 1; i <= n && i <= words; i++) if (w[i] != "") text = text (text == "" ? "" : " ") w[i]
    print language "\t" section "\t" page "\t" text
  }
  page = ""; name = ""; desc = ""; part = ""; skip = 0
}

# Plain text out of one line of roff: font changes, escapes and special characters.
function plain(s) {
  gsub(/\\\\/, "\001", s)                         # a printed backslash, put back at the end
  gsub(/\\".*$/, "", s)                           # a comment at the end of a line
  gsub(/\\[mM]\[[^]]*\]/, "", s); gsub(/\\[mM]\(../, "", s)  # colours
  gsub(/\\[hvwlLoDbxXYzZkSRAB]'[^']*'/, "", s)    # motions, widths and other escapes with a quoted argument
  gsub(/\\n\[[^]]*\]/, "", s); gsub(/\\n\(../, "", s); gsub(/\\n[A-Za-z0-9.]/, "", s)  # registers
  gsub(/\\[ud]/, "", s); gsub(/\\0/, " ", s)
  gsub(/\\f\[[^]]*\]/, "", s); gsub(/\\f\([A-Za-z][A-Za-z]/, "", s); gsub(/\\f[A-Za-z0-9]/, "", s)
  gsub(/\\s[-+]?[0-9]/, "", s)
  gsub(/\\\(:a/, "ä", s); gsub(/\\\(:o/, "ö", s); gsub(/\\\(:u/, "ü", s)
  gsub(/\\\(:A/, "Ä", s); gsub(/\\\(:O/, "Ö", s); gsub(/\\\(:U/, "Ü", s); gsub(/\\\(ss/, "ß", s)
  gsub(/\\\(em/, "—", s); gsub(/\\\(en/, "–", s); gsub(/\\\(bu/, "•", s)
  gsub(/\\\(Fo/, "«", s); gsub(/\\\(Fc/, "»", s); gsub(/\\\(lq/, "“", s); gsub(/\\\(rq/, "”", s)
  gsub(/\\\(aq/, "'", s); gsub(/\\\(dq/, "\"", s); gsub(/\\\(co/, "©", s); gsub(/\\\(mu/, "×", s)
  gsub(/\\\*\(lq/, "“", s); gsub(/\\\*\(rq/, "”", s); gsub(/\\\*\(Aq/, "'", s)
  gsub(/\\\[[^]]*\]/, "", s); gsub(/\\\([^ ][^ ]/, "", s); gsub(/\\\*\([^ ][^ ]/, "", s); gsub(/\\\*[A-Za-z]/, "", s)
  gsub(/\\-/, "-", s); gsub(/\\ /, " ", s); gsub(/\\~/, " ", s); gsub(/\\e/, "\001", s)
  gsub(/\\[&%,\/|^c:)]/, "", s)
  gsub(/\\[ -~]/, "", s)                          # any other escape of one (ASCII) character
  gsub(/\\/, "", s)                               # a stray backslash, e.g. before a UTF-8 character
  gsub(/\001/, "\\", s)
  gsub(/\t/, " ", s)
  return s
}

# The arguments of a font macro (.B, .BR, .IR, ...): quoted or not; the alternating ones join them without spaces.
function macro_args(line, joined,    rest, out, arg, q) {
  rest = line; sub(/^\.[A-Za-z]+[ \t]*/, "", rest)
  out = ""
  while (rest != "") {
    if (substr(rest, 1, 1) == "\"") {
      q = index(substr(rest, 2), "\"")
      if (q == 0) { arg = substr(rest, 2); rest = "" } else { arg = substr(rest, 2, q - 1); rest = substr(rest, q + 2) }
    } else if (match(rest, /[ \t]/)) {
      arg = substr(rest, 1, RSTART - 1); rest = substr(rest, RSTART + 1)
    } else { arg = rest; rest = "" }
    sub(/^[ \t]+/, "", rest)
    out = out ((out == "" || joined) ? "" : " ") arg
  }
  return out
}

function add(s) {
  s = plain(s)
  gsub(/^ +| +$/, "", s)
  if (s == "") return
  if (part == "name") name = name (name == "" ? "" : " ") s
  else if (part == "desc") desc = desc (desc == "" ? "" : " ") s
}

/^\.\\" @@page / { flush(); language = $3; section = $4; page = $5; next }
/^[.']\\"/ { next }                                            # comments
/^\.(TS|EX|nf)([ \t]|$)/ { skip = 1; next }                    # tables, examples, preformatted blocks
/^\.(TE|EE|fi)([ \t]|$)/ { skip = 0; next }
skip { next }
/^\.SH/ {
  header = macro_args($0, 0); gsub(/"/, "", header); header = toupper(plain(header))
  if (name == "" && part == "") part = "name"                   # the first section is the NAME line in every language
  else if (desc == "" && header ~ /^(DESCRIPTION|BESCHREIBUNG|DESCRIPCI.*N|DESCRIZIONE|OPIS|BESCHRIJVING|DESCRI.*O)$/) part = "desc"
  else part = "other"
  next
}
/^\.(B|I|SM|SB)([ \t]|$)/ { add(macro_args($0, 0)); next }
/^\.(BR|RB|BI|IB|IR|RI)([ \t]|$)/ { add(macro_args($0, 1)); next }
/^[.']/ { next }                                                # every other request: paragraphs, indents, .SS, ...
{ add($0) }
END { flush() }

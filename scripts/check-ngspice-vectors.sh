#!/usr/bin/env bash
# check-ngspice-vectors.sh: run a hand-off's top.cir in stock ngspice for
# every row of its vectors.csv and compare with expected.csv (docs/export.md
# "Test vectors").  The directory comes from
#   eqspice export RUNDIR --vectors N -o DIR
#
#   scripts/check-ngspice-vectors.sh DIR [JOBS]
#
# One DC sweep per job instead of one operating point per row: every input
# source of top.cir becomes a B source v = pwl(v(idx), 0, u_0, 1, u_1, ...)
# of its values in the job's rows, and `dc vidx 0 n-1 1` steps a source
# vidx through the row numbers, each point a full operating point of the
# network (ngspice starts it from the previous one); wrdata writes the
# outputs.  The rows are split over JOBS ngspice processes (default: the
# cores).  Prints the number of rows whose predicted class agrees and the
# largest output difference, writes DIR/ngspice-vectors.csv, and exits 1
# when a prediction differs or an output is more than 1 uV away.
set -euo pipefail
dir=${1:?usage: $0 DIR [JOBS]}
jobs=${2:-$(nproc)}
for f in top.cir vectors.csv expected.csv; do
  [ -r "$dir/$f" ] || { echo "check-ngspice-vectors: $dir/$f missing (eqspice export --vectors N)" >&2; exit 2; }
done
command -v ngspice > /dev/null || { echo "check-ngspice-vectors: ngspice not installed" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/eqs-ngvec-XXXXXX")
trap 'rm -rf "$work"' EXIT
outs=$(awk -F, '!/^#/ { for (i = 4; i <= NF; ++i) printf "%s%s", (i > 4 ? " " : ""), $i; print ""; exit }' "$dir/expected.csv")
rows=$(awk -F, '!/^#/ { n++ } END { print n - 1 }' "$dir/vectors.csv")
[ "$rows" -ge 1 ] || { echo "check-ngspice-vectors: no vectors in $dir/vectors.csv" >&2; exit 2; }
[ "$jobs" -le "$rows" ] || jobs=$rows
per=$(( (rows + jobs - 1) / jobs ))
for ((j = 0; j < jobs; ++j)); do
  r0=$((j * per)); r1=$(( (j + 1) * per < rows ? (j + 1) * per : rows ))
  [ "$r0" -lt "$r1" ] || continue
  # the job's rows as pwl tables, one per input source
  awk -F, -v r0="$r0" -v r1="$r1" '
    /^#/ { next }
    !hdr { for (i = 3; i <= NF; ++i) name[i] = tolower($i); nf = NF; hdr = 1; next }
    $1 >= r0 && $1 < r1 { for (i = 3; i <= NF; ++i) t[i] = t[i] sprintf(",%d,%s", $1 - r0, $i) }
    END { for (i = 3; i <= nf; ++i) print name[i] " " substr(t[i], 2) }' "$dir/vectors.csv" > "$work/pwl$j"
  awk -v pwl="$work/pwl$j" -v n=$((r1 - r0)) -v outs="$outs" -v data="$work/dc$j.txt" '
    BEGIN { while ((getline l < pwl) > 0) { k = index(l, " "); tab[substr(l, 1, k - 1)] = substr(l, k + 1) } }
    $0 == ".op" { done = 1 }
    done { next }
    { w = tolower($1) }
    (w in tab) { printf "b%s %s %s v=pwl(v(idx),%s)\n", $1, $2, $3, tab[w]; next }
    { print }
    END {
      print "vidx idx 0 dc 0"
      # each sweep point starts from the last one: converge tighter than
      # top.cir asks (reltol 1e-6 would leave ~1e-7 V at 0.3 V outputs)
      print ".options reltol=1e-9 vntol=1e-12"
      print ".control"
      m = split(outs, o, " "); s = ""
      for (k = 1; k <= m; ++k) s = s " v(" o[k] ")"
      printf "dc vidx 0 %d 1\nwrdata %s%s\n.endc\n.end\n", n - 1, data, s
    }' "$dir/top.cir" > "$work/job$j.cir"
  (cd "$work" && ngspice -b "job$j.cir" > "job$j.out" 2>&1; echo $? > "job$j.rc") &
done
wait
for ((j = 0; j < jobs; ++j)); do
  [ -f "$work/job$j.rc" ] || continue
  if [ "$(cat "$work/job$j.rc")" != 0 ] || [ ! -s "$work/dc$j.txt" ]; then
    echo "check-ngspice-vectors: ngspice failed on job $j:" >&2
    tail -5 "$work/job$j.out" >&2
    exit 1
  fi
done
# vector, output, value: wrdata rows are (index, value) pairs, one per output
for ((j = 0; j < jobs; ++j)); do
  [ -s "$work/dc$j.txt" ] || continue
  awk -v r0=$((j * per)) -v outs="$outs" 'BEGIN { m = split(outs, o, " ") }
    { v = r0 + int($1 + 0.5); for (k = 1; k <= m; ++k) print v "," o[k] "," $(2 * k) }' "$work/dc$j.txt"
done > "$work/ng.csv"
awk -F, -v outs="$outs" -v out="$dir/ngspice-vectors.csv.tmp" '
  BEGIN { n = split(outs, o, " ") }
  FNR == NR { val[$1 "," $2] = $3; next }
  /^#/ || !seen++ { next }
  {
    best = -1; bv = 0; rows++
    for (k = 1; k <= n; ++k) {
      key = $1 "," o[k]
      if (!(key in val)) { missing++; next }
      y = val[key]; d = y - $(k + 3); if (d < 0) d = -d; if (d > dmax) dmax = d
      if (best < 0 || y > bv) { bv = y; best = k - 1 }
    }
    same += (best == $3); printf "%s,%s,%d,%d\n", $1, $2, $3, best > out
  }
  END {
    printf "check-ngspice-vectors: %d vectors: stock ngspice predicts the same class for %d, max |dV| at the outputs %.3g V%s\n",
           rows, same, dmax, missing ? sprintf(", %d rows without output", missing) : ""
    exit (same != rows || missing || dmax > 1e-6)
  }' "$work/ng.csv" "$dir/expected.csv" && rc=0 || rc=$?
{ echo "sample,label,predicted_eqspice,predicted_ngspice"; cat "$dir/ngspice-vectors.csv.tmp"; } > "$dir/ngspice-vectors.csv"
rm -f "$dir/ngspice-vectors.csv.tmp"
exit "$rc"

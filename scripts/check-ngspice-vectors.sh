#!/usr/bin/env bash
# check-ngspice-vectors.sh: run a hand-off's top.cir in stock ngspice for
# every row of its vectors.csv and compare with expected.csv (docs/export.md
# "Test vectors").  The directory comes from
#   eqspice export RUNDIR --vectors N -o DIR
#
#   scripts/check-ngspice-vectors.sh DIR [JOBS]
#
# The rows are split over JOBS ngspice processes (default: the cores); each
# loads top.cir once, then for each of its rows sets every input source
# (alter), solves the operating point and prints the outputs.  Prints the
# number of rows whose predicted class agrees and the largest output
# difference, writes DIR/ngspice-vectors.csv, and exits 1 when a prediction
# differs or an output is more than 1 uV away.
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
# the network without its .op and control block
sed '/^\.op$/,$d' "$dir/top.cir" > "$work/net.cir"
for ((j = 0; j < jobs; ++j)); do
  {
    cat "$work/net.cir"
    echo ".control"
    echo "set numdgt=15"
    awk -F, -v J="$jobs" -v j="$j" -v outs="$outs" '
      /^#/ { next }
      !hdr { for (i = 3; i <= NF; ++i) name[i] = tolower($i); hdr = 1; next }
      ($1 % J) == j {
        for (i = 3; i <= NF; ++i) printf "alter %s = %s\n", name[i], $i
        n = split(outs, o, " ")
        printf "op\necho vector %s\nprint", $1
        for (k = 1; k <= n; ++k) printf " v(%s)", o[k]
        printf "\n"
      }' "$dir/vectors.csv"
    echo ".endc"
    echo ".end"
  } > "$work/job$j.cir"
  (cd "$work" && ngspice -b "job$j.cir" > "job$j.out" 2>&1) &
done
wait
# vector, output, value
cat "$work"/job*.out | awk '
  /^vector / { v = $2; next }
  v != "" && $2 == "=" { name = $1; sub(/^v\(/, "", name); sub(/\)$/, "", name); print v "," name "," $3 }' \
  > "$work/ng.csv"
awk -F, -v outs="$outs" '
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
  }' out="$dir/ngspice-vectors.csv.tmp" "$work/ng.csv" "$dir/expected.csv" && rc=0 || rc=$?
{ echo "sample,label,predicted_eqspice,predicted_ngspice"; cat "$dir/ngspice-vectors.csv.tmp"; } > "$dir/ngspice-vectors.csv"
rm -f "$dir/ngspice-vectors.csv.tmp"
exit "$rc"

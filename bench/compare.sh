#!/usr/bin/env bash
# make bench-compare: speed of this tree against an older commit, measured in
# the same run.  Usage: bench/compare.sh [REF] [NEW_CLI]
#   REF      commit to compare with (default b7386e0, the tree before the
#            device-table / layered redesign)
#   NEW_CLI  the binary under test (default build/eqspice)
# REF is exported with `git archive` into bench/tmp/ref-<short sha>/ (no
# worktree registration) and built there with its own `make all`; a second
# run reuses that build.  Both binaries then measure, on DRN-1H 784-1024-10:
#   - the layered batched training step at batch 32 (`eqspice bench train`):
#     double, single precision (--float32) and double on one core (--threads 1);
#   - `eqspice op` of one netlist written by the OLD binary's `gen drn` (both
#     read it), layered and newton backends: wall time and the --stats times
#     parse_s, compile_s, solve_s (solver creation + cold solve);
#   - when the new `gen drn` writes a different file, `op` of the new binary
#     on its own file as well (and of the old binary on it if it parses).
# The machine is shared, so each metric is measured as a pair of runs back to
# back, old and new, the order swapped every round (AB BA AB ...), and every
# round gives one ratio.  Ratios are speed ratios: new/old for throughputs,
# old/new for times, so > 1 means the new binary is faster.  The verdict
# compares the median ratio with 0.95.
# Environment: BENCH_ROUNDS (default 12, about 13 minutes), BENCH_SECONDS (budget of one
# training run, default 3), BENCH_LAYERS (default 784,1024,10).
# Outputs: raw lines and run outputs in bench/tmp/compare/, the summary
# appended to bench/results/redesign.md (and printed).
set -euo pipefail
ref=${1:-b7386e0}
new_cli=${2:-build/eqspice}
rounds=${BENCH_ROUNDS:-12}
secs=${BENCH_SECONDS:-3}
layers=${BENCH_LAYERS:-784,1024,10}
root=$(git rev-parse --show-toplevel)
cd "$root"

ref_sha=$(git rev-parse --verify "$ref^{commit}")
ref_short=$(git rev-parse --short=7 "$ref_sha")
new_sha=$(git rev-parse HEAD)
dirty=$(git status --porcelain --untracked-files=no -- src | wc -l)
[ -x "$new_cli" ] || { echo "compare: $new_cli is not an executable (run make all)" >&2; exit 1; }

# ---- build REF ---------------------------------------------------------------
refdir=bench/tmp/ref-$ref_short
if [ ! -f "$refdir/.extracted" ]; then
  rm -rf "$refdir"
  mkdir -p "$refdir"
  git archive "$ref_sha" | tar -x -C "$refdir"
  touch "$refdir/.extracted"
fi
echo "compare: building $ref_short in $refdir" >&2
make -C "$refdir" -s -j2 all >&2
old_cli=$refdir/build/eqspice

out=bench/tmp/compare
rm -rf "$out"
mkdir -p "$out"
raw=$out/raw.txt
: > "$raw"
loadlog=$out/load.txt
uptime > "$loadlog"

# ---- one measurement of one binary -------------------------------------------
# Each appends 'round=R metric=M bin=old|new value=X' lines to $raw.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }
emit() { echo "round=$1 metric=$2 bin=$3 value=$4" >> "$raw"; }

train_once() { # round bin cli tag flags...
  local r=$1 b=$2 cli=$3 tag=$4
  shift 4
  local f=$out/train-$tag-$b-$r.txt
  "$cli" bench train --layers "$layers" --batch 32 --solver layered --seconds "$secs" "$@" > "$f" 2> "$f.err"
  local sps fl
  sps=$(field "$(grep floor_samples_per_s "$f")" samples_per_s)
  fl=$(field "$(grep floor_samples_per_s "$f")" floor_samples_per_s)
  emit "$r" "train_$tag" "$b" "$sps"
  emit "$r" "train_${tag}_per_floor" "$b" "$(awk -v a="$sps" -v b="$fl" 'BEGIN { printf "%.4f", a / b }')"
}

op_once() { # round bin cli netlist tag solver
  local r=$1 b=$2 cli=$3 cir=$4 tag=$5 s=$6
  local f=$out/op-$tag-$s-$b-$r
  local t0 t1
  t0=$(date +%s%N)
  "$cli" op --solver "$s" --stats "$cir" > "$f.csv" 2> "$f.stats"
  t1=$(date +%s%N)
  local st
  st=$(grep '^stats:' "$f.stats")
  emit "$r" "op_${tag}_${s}_wall" "$b" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')"
  for k in parse_s compile_s solve_s; do
    emit "$r" "op_${tag}_${s}_${k%_s}" "$b" "$(field "$st" "$k")"
  done
  [ "$r" = 1 ] || rm -f "$f.csv" # the first round's voltages are kept for the check below
}

# pair: run old and new back to back, order swapped on even rounds
pair() { # round function args... (the function gets: round bin cli args...)
  local r=$1 fn=$2
  shift 2
  if [ $((r % 2)) -eq 1 ]; then
    "$fn" "$r" old "$old_cli" "$@"
    "$fn" "$r" new "$new_cli" "$@"
  else
    "$fn" "$r" new "$new_cli" "$@"
    "$fn" "$r" old "$old_cli" "$@"
  fi
}

# ---- the netlists ---------------------------------------------------------------
cir_old=$out/drn-old.cir
cir_new=$out/drn-new.cir
"$old_cli" gen drn --layers "$layers" --seed 1 > "$cir_old"
"$new_cli" gen drn --layers "$layers" --seed 1 > "$cir_new"
own=0      # 1: the new gen drn writes another file
own_old=0  # 1: ... and the old binary reads it
if cmp -s "$cir_old" "$cir_new"; then
  rm -f "$cir_new"
  gen_note="both binaries' \`gen drn\` write the same file (byte-identical)"
else
  own=1
  if "$old_cli" op --solver newton "$cir_new" > /dev/null 2> "$out/old-reads-new.txt"; then
    own_old=1
    gen_note="the new \`gen drn\` writes another file; the old binary reads it"
  else
    gen_note="the new \`gen drn\` writes another file, which the old binary does not read ($(head -1 "$out/old-reads-new.txt"))"
  fi
fi

# ---- rounds -----------------------------------------------------------------------
t_start=$(date +%s)
for r in $(seq 1 "$rounds"); do
  echo "compare: round $r of $rounds ($(uptime | sed 's/.*load/load/'))" >&2
  pair "$r" train_once double
  pair "$r" train_once single --float32
  pair "$r" train_once double_1core --threads 1
  for s in layered newton; do
    pair "$r" op_once "$cir_old" oldnet "$s"
    if [ "$own" = 1 ]; then
      if [ "$own_old" = 1 ]; then
        pair "$r" op_once "$cir_new" newnet "$s"
      else
        op_once "$r" new "$new_cli" "$cir_new" newnet "$s"
      fi
    fi
  done
  uptime >> "$loadlog"
done
t_total=$(( $(date +%s) - t_start ))

# the two binaries must agree on the voltages of the shared netlist
maxdv() { # csv csv
  awk -F, 'NR == FNR { v[$1] = $2; next } FNR > 1 { d = $2 - v[$1]; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3g", m }' "$1" "$2"
}
dv_layered=$(maxdv "$out/op-oldnet-layered-old-1.csv" "$out/op-oldnet-layered-new-1.csv")
dv_newton=$(maxdv "$out/op-oldnet-newton-old-1.csv" "$out/op-oldnet-newton-new-1.csv")

# ---- summary ------------------------------------------------------------------------
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
g4() { awk '{ printf "%.4g", $1 }'; }
vals() { # metric bin -> values in round order
  awk -v m="$1" -v b="$2" '{ split($2, x, "="); split($3, y, "="); split($4, z, "=");
    if (x[2] == m && y[2] == b) print z[2] }' "$raw"
}
# higher is better for throughputs, lower for times
better_high() { case $1 in train_*) return 0 ;; *) return 1 ;; esac; }
unit() { case $1 in train_*_per_floor) echo "x floor" ;; train_*) echo "samples/s" ;; *) echo "s" ;; esac; }
label() {
  case $1 in
    train_double) echo "train step, double, 2 threads" ;;
    train_single) echo "train step, single (--float32), 2 threads" ;;
    train_double_1core) echo "train step, double, --threads 1" ;;
    train_*_per_floor) echo "$(label "${1%_per_floor}") / same-run GEMM floor" ;;
    op_oldnet_*) local x=${1#op_oldnet_}; echo "op ${x%_*}: ${x##*_} (old gen drn file)" ;;
    op_newnet_*) local x=${1#op_newnet_}; echo "op ${x%_*}: ${x##*_} (new gen drn file)" ;;
  esac
}
metrics=$(awk '{ split($2, x, "="); if (!(x[2] in s)) { s[x[2]] = 1; print x[2] } }' "$raw")

summary=$out/summary.md
{
  echo
  echo "## bench-compare $(date -u '+%Y-%m-%d %H:%M') UTC: $ref_short vs $(git rev-parse --short=7 HEAD)$([ "$dirty" -gt 0 ] && echo ' (+ uncommitted changes in src/)')"
  echo
  echo "Command: \`bench/compare.sh $ref $new_cli\` (BENCH_ROUNDS=$rounds BENCH_SECONDS=$secs"
  echo "BENCH_LAYERS=$layers), $rounds rounds in ${t_total} s; old = \`$ref_sha\`, new = \`$new_sha\`"
  echo "($new_cli). $(nproc) cores, $(uname -m). Network $layers (seed 1, batch 32 for"
  echo "training: \`bench train --solver layered --seconds $secs\`; floor = the run's own GEMM floor);"
  echo "op: \`op --solver S --stats\` on one netlist from the old \`gen drn\`; $gen_note."
  echo "Same voltages: max |V_new - V_old| = $dv_layered V (layered), $dv_newton V (newton)."
  echo "Ratio = new/old speed (throughput new/old, time old/new): > 1 is faster; each round"
  echo "runs old and new back to back, order swapped every round. Best = the fastest of the"
  echo "rounds (load only slows a run down, so on a busy machine the ratio of bests is the"
  echo "steadier reading). Load (uptime) before the first round and after each:"
  echo
  echo '```'
  sed 's/^ *//' "$loadlog"
  echo '```'
  echo
  echo "| metric | unit | old (median) | new (median) | ratio per round | median ratio | verdict (median >= 0.95) | best old | best new | ratio of bests |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for m in $metrics; do
    # the new binary's own netlist when the old one does not read it: vs old on its file
    mo=$m
    [ -n "$(vals "$m" old)" ] || mo=${m/op_newnet_/op_oldnet_}
    if better_high "$m"; then
      ratios=$(paste -d' ' <(vals "$mo" old) <(vals "$m" new) | awk '{ printf "%.3f\n", $2 / $1 }')
      bo=$(vals "$mo" old | sort -g | tail -1); bn=$(vals "$m" new | sort -g | tail -1)
      rb=$(awk -v a="$bo" -v b="$bn" 'BEGIN { printf "%.3f", b / a }')
    else
      ratios=$(paste -d' ' <(vals "$mo" old) <(vals "$m" new) | awk '{ printf "%.3f\n", $1 / $2 }')
      bo=$(vals "$mo" old | sort -g | head -1); bn=$(vals "$m" new | sort -g | head -1)
      rb=$(awk -v a="$bo" -v b="$bn" 'BEGIN { printf "%.3f", a / b }')
    fi
    med=$(printf '%s\n' "$ratios" | median)
    verdict=$(awk -v x="$med" 'BEGIN { print (x >= 0.95) ? "ok" : "**below**" }')
    printf '| %s%s | %s | %s | %s | %s | %.3f | %s | %s | %s | %s |\n' "$(label "$m")" \
      "$([ "$mo" = "$m" ] || echo ' (old: on its own file)')" "$(unit "$m")" \
      "$(vals "$mo" old | median | g4)" "$(vals "$m" new | median | g4)" \
      "$(printf '%s\n' "$ratios" | tr '\n' ' ' | sed 's/ $//')" "$med" "$verdict" \
      "$(g4 <<<"$bo")" "$(g4 <<<"$bn")" "$rb"
  done
  echo
  echo "Raw lines: bench/tmp/compare/raw.txt (not kept in the tree)."
} > "$summary"

res=bench/results/redesign.md
if [ ! -f "$res" ]; then
  {
    echo "# Speed against the pre-redesign tree"
    echo
    echo "Appended by \`make bench-compare\` (bench/compare.sh), one section per run; see"
    echo "docs/benchmarks.md \"Same-run comparison with an older commit\"."
  } > "$res"
fi
cat "$summary" >> "$res"
cat "$summary"

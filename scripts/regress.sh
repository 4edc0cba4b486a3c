#!/usr/bin/env bash
# regress.sh: refactors keep the bits.  Trains the demo, the XOR experiment
# and the short runs of tests/regress/*.xml (Newton-path DRN, batched layered
# in double and in single precision, ncep, aeqprop) and compares what each
# run writes -- conductances.csv, trained.cir and metrics.csv without its
# wall-time column `seconds` -- byte for byte with tests/regress/expected/.
#
#   scripts/regress.sh check  [path/to/eqspice]   (make regress; part of make check)
#   scripts/regress.sh record [path/to/eqspice]   (make regress-update)
#
# Record only at a commit whose behaviour is the reference (before a
# refactor), and say in the commit why the expected files changed.
set -euo pipefail
mode=${1:-check}
cli=${2:-build/eqspice}
exp_dir=tests/regress/expected
[ -x "$cli" ] || { echo "regress: $cli not found (run make all)" >&2; exit 2; }
case "$mode" in check|record) ;; *) echo "usage: $0 check|record [eqspice]" >&2; exit 2;; esac
# The layered runs go through OpenBLAS, whose kernels (picked for the CPU
# at load time, or by OPENBLAS_CORETYPE) round differently from one CPU
# family to the next.  The expected files were recorded with its
# Sandybridge (AVX) kernels, so pin them here, over any OPENBLAS_CORETYPE
# of the environment (a VM of this project sets Haswell): the comparison is
# then about eqspice, not about the CPU (every x86-64 CPU with AVX runs them).
export OPENBLAS_CORETYPE=Sandybridge
tmp=$(mktemp -d "${TMPDIR:-/tmp}/eqs-regress-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

runs=(netlists/demo-experiment.xml netlists/xor-experiment.xml tests/regress/*.xml)
# metrics.csv without the `seconds` column (wall time differs run to run)
strip_seconds() {
    awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; ++i) if ($i == "seconds") s = i }
                      { if (s) { for (i = s; i < NF; ++i) $i = $(i + 1); NF--; } print }' "$1"
}
fail=0
for x in "${runs[@]}"; do
    name=$(basename "$x" .xml)
    out=$tmp/$name
    if ! "$cli" train "$x" -o "$out" > "$tmp/$name.log" 2>&1; then
        echo "regress: $name: training failed:" >&2
        tail -5 "$tmp/$name.log" >&2
        fail=1
        continue
    fi
    strip_seconds "$out/metrics.csv" > "$out/metrics-noseconds.csv"
    if [ "$mode" = record ]; then
        mkdir -p "$exp_dir/$name"
        cp "$out/conductances.csv" "$out/trained.cir" "$exp_dir/$name/"
        cp "$out/metrics-noseconds.csv" "$exp_dir/$name/metrics.csv"
        echo "regress: $name recorded"
        continue
    fi
    for f in conductances.csv trained.cir metrics.csv; do
        got=$out/$f
        [ "$f" = metrics.csv ] && got=$out/metrics-noseconds.csv
        if ! cmp -s "$got" "$exp_dir/$name/$f"; then
            echo "regress: $name: $f differs from $exp_dir/$name/$f:" >&2
            diff "$exp_dir/$name/$f" "$got" | head -6 >&2 || true
            fail=1
        fi
    done
    [ "$fail" -ne 0 ] || echo "regress: $name identical"
done
[ "$fail" -eq 0 ] || { echo "regress: FAILED (behaviour changed; see above)" >&2; exit 1; }
echo "regress: all ${#runs[@]} runs byte-identical to $exp_dir"

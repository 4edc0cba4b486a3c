#!/usr/bin/env bash
# golden-update.sh: regenerate tests/golden/ with real ngspice (run by
# `make golden-update`, the only way golden files change).
#
# For every golden netlist (netlists/*.cir and tests/golden/cases/*.cir) it
# runs ngspice through eqspice's ngspice backend with tight tolerances,
#   eqspice op NETLIST --solver ngspice --reltol R --abstol A --vntol V -o CSV
# and writes tests/golden/<name>.csv: '#' provenance lines (ngspice
# version, options, date, netlist) followed by the CSV exactly as
# `eqspice op` prints it (node,voltage_V).  tests/golden/MANIFEST lists
# "<name> <netlist path>" for tests/test_golden.c.
#
# Usage: scripts/golden-update.sh [path/to/eqspice] [NAME ...]   (from the repository root)
#   NAME ...: regenerate only these cases (also GOLDEN_CASES="NAME ..." in the
#   environment, e.g. `GOLDEN_CASES="temp_85 temp_150" make golden-update`); the
#   other goldens are left as they are, MANIFEST still lists every case.
set -euo pipefail

cli=${1:-build/eqspice}
[ $# -eq 0 ] || shift
only=("$@")
if [ ${#only[@]} -eq 0 ] && [ -n "${GOLDEN_CASES:-}" ]; then
    read -r -a only <<<"$GOLDEN_CASES"
fi
out=tests/golden
# Tight tolerances ngspice 39 converges with on every case; the CLI flags
# override the netlists' own .options.  gmin and itl1 stay at the netlist's
# value or eqspice's default (1e-12 S, 100).
RELTOL=1e-10
ABSTOL=1e-16
VNTOL=1e-13

[ -x "$cli" ] || { echo "golden-update: $cli not found (run make all)" >&2; exit 2; }
[ -d "$out/cases" ] || { echo "golden-update: run from the repository root" >&2; exit 2; }

pkg=$(dpkg-query -W -f='${Package} ${Version}' libngspice0 2>/dev/null || echo "libngspice0 unknown")
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

names=()
paths=()
for f in netlists/*.cir "$out"/cases/*.cir; do
    [ -f "$f" ] || continue
    name=$(basename "$f" .cir)
    # bidir_amp.cir only defines a subcircuit for .include (no element at
    # the top level): eqspice refuses it ("nothing to simulate"), so it has
    # no operating point to keep; its behaviour is tested in test_ncep.c.
    [ "$f" != netlists/bidir_amp.cir ] || continue
    for n in "${names[@]+"${names[@]}"}"; do
        [ "$n" != "$name" ] || { echo "golden-update: duplicate case name $name ($f)" >&2; exit 2; }
    done
    names+=("$name")
    paths+=("$f")
done

# 1 if case $1 is to be regenerated
selected() {
    [ ${#only[@]} -gt 0 ] || return 0
    local o
    for o in "${only[@]}"; do [ "$o" != "$1" ] || return 0; done
    return 1
}
for o in "${only[@]+"${only[@]}"}"; do
    found=0
    for n in "${names[@]}"; do [ "$n" != "$o" ] || found=1; done
    [ $found -eq 1 ] || { echo "golden-update: no case named $o" >&2; exit 2; }
done

banner=""
for i in "${!names[@]}"; do
    name=${names[$i]}
    f=${paths[$i]}
    selected "$name" || continue
    if ! "$cli" op "$f" --solver ngspice --reltol "$RELTOL" --abstol "$ABSTOL" \
            --vntol "$VNTOL" -o "$tmp/$name.csv" -vv 2>"$tmp/$name.log"; then
        echo "golden-update: ngspice failed on $f:" >&2
        grep -v 'ngspice: std' "$tmp/$name.log" | tail -n 5 >&2
        exit 1
    fi
    # the library's own banner ("** ngspice-39 shared library"), logged at debug
    b=$(grep -o 'ngspice-[0-9][0-9.]*' "$tmp/$name.log" | head -n 1 || true)
    [ -z "$b" ] || banner=$b
    {
        echo "# golden DC operating point for eqspice; do not edit: make golden-update"
        echo "# netlist: $f"
        echo "# ngspice: ${banner:-unknown} shared library ($pkg), through eqspice --solver ngspice"
        echo "# options: reltol=$RELTOL abstol=$ABSTOL vntol=$VNTOL"
        echo "# date: $date"
        cat "$tmp/$name.csv"
    } >"$tmp/$name.golden"
    echo "golden-update: $name ($f): $(($(wc -l <"$tmp/$name.csv") - 1)) nodes"
done

# every case succeeded: install the new files together
[ ${#only[@]} -gt 0 ] || rm -f "$out"/*.csv
count=0
for name in "${names[@]}"; do
    selected "$name" || continue
    mv "$tmp/$name.golden" "$out/$name.csv"
    count=$((count + 1))
done
{
    echo "# golden cases: <name> <netlist>; answers in tests/golden/<name>.csv"
    echo "# written by scripts/golden-update.sh on $date"
    # (after a partial run: only the cases that have a golden)
    for i in "${!names[@]}"; do
        [ ! -f "$out/${names[$i]}.csv" ] || echo "${names[$i]} ${paths[$i]}"
    done
} >"$out/MANIFEST"
echo "golden-update: $count of ${#names[@]} cases written to $out/ (ngspice ${banner:-unknown}, $pkg)"
for name in "${names[@]}"; do
    [ -f "$out/$name.csv" ] ||
        echo "golden-update: warning: case $name has no golden yet, left out of MANIFEST" >&2
done

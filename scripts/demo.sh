#!/usr/bin/env bash
# make demo: solve a small built-in layered diode network with the built-in
# Newton solver, show its operating point, and check it against ngspice.
set -euo pipefail
cli=${1:-build/eqspice}
net=netlists/layered.cir
[ -f "$net" ] || net=netlists/divider.cir
echo "== eqspice demo: DC operating point of $net =="
grep -E '^\*' "$net" | head -n 8 | sed 's/^\* \{0,1\}/   /'
echo
"$cli" op "$net" --stats
echo
echo "== the same network solved by ngspice (shared library) =="
"$cli" compare "$net" --reltol 1e-9 --vntol 1e-12

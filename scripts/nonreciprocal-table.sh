#!/bin/sh
# nonreciprocal-table.sh: the table of docs/nonreciprocal.md.  For every
# non-reciprocal example netlist (and a generated 20-10-4 DRN with
# amplifiers of gain 2) and beta = {10, 1, 0.1} x the default beta (i.e.
# 1e-2, 1e-3, 1e-4 x the mean trainable conductance), runs `eqspice grad`
# with --method adjoint, centered and ncep, and prints the cosine and the
# relative L2 error of centered and ncep against the adjoint gradient as a
# Markdown table.  Targets: +0.1 V, -0.1 V, ... on the .output nodes in
# card order.  Usage: scripts/nonreciprocal-table.sh [path/to/eqspice]
set -eu
EQS=${1:-build/eqspice}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

"$EQS" gen drn --layers 20,10,4 --gain 15 --seed 3 --amplifiers 2 -o "$TMP/drn-amp.cir"

targets() { # --target arguments for the .output nodes of $1
    awk 'tolower($1) == ".output" { for (i = 2; i <= NF; ++i) print $i }' "$1" |
        awk '{ printf "--target %s=%s ", $1, (NR % 2 ? "0.1" : "-0.1") }'
}

# cosine and relative L2 error of CSV $1 against CSV $2 (element,gradient)
compare() {
    paste -d, "$1" "$2" | awk -F, 'NR > 1 { ab += $2 * $4; aa += $2 * $2; bb += $4 * $4;
        d += ($2 - $4) * ($2 - $4) }
        END { printf "%.10f | %.2e", ab / sqrt(aa * bb), sqrt(d / bb) }'
}

echo "| netlist | beta (S) | beta / default | centered: cosine / rel. L2 | ncep: cosine / rel. L2 |"
echo "|---|---|---|---|---|"
for net in netlists/nonrecip_vccs.cir netlists/nonrecip_two_layer.cir \
    netlists/nonrecip_amp_layers.cir netlists/amplifier.cir "$TMP/drn-amp.cir"; do
    tg=$(targets "$net")
    # shellcheck disable=SC2086
    b0=$("$EQS" grad "$net" $tg --method adjoint -v -o "$TMP/adj.csv" 2>&1 |
        sed -n 's/.*beta_S=\([^ ]*\).*/\1/p')
    name=$(basename "$net")
    [ "$net" = "$TMP/drn-amp.cir" ] && name="gen drn 20,10,4 --amplifiers 2"
    for f in 10 1 0.1; do
        b=$(awk -v b="$b0" -v f="$f" 'BEGIN { printf "%.6g", b * f }')
        for m in centered ncep; do
            # shellcheck disable=SC2086
            "$EQS" grad "$net" $tg --method $m --beta "$b" -o "$TMP/$m.csv"
        done
        c=$(compare "$TMP/centered.csv" "$TMP/adj.csv")
        n=$(compare "$TMP/ncep.csv" "$TMP/adj.csv")
        echo "| $name | $b | $f | $(echo "$c" | sed 's/|/\//') | $(echo "$n" | sed 's/|/\//') |"
    done
done

#!/usr/bin/env bash
# make demo: train a small diode-resistor network by Equilibrium Propagation
# and print its test accuracy.  With Fashion-MNIST installed
# (/usr/share/datasets/fashion-mnist, Debian package dataset-fashion-mnist) a
# 784-32-10 DRN on 4000 images (about a minute); otherwise a 2-16-2 DRN on
# the built-in XOR task (a second).  The run directory is runs/demo
# (git-ignored), replaced on every run.
set -euo pipefail
cli=${1:-build/eqspice}
fm=/usr/share/datasets/fashion-mnist
if [ ! -f "$fm/train-images-idx3-ubyte.gz" ]; then
    # The demo prefers real data: try to install the Debian package; without
    # it (no network, not root) fall back to the built-in XOR task.
    EQS_EXTRA_PKGS=dataset-fashion-mnist bash scripts/install-deps.sh >/dev/null 2>&1 ||
        echo "note: could not install dataset-fashion-mnist; using the built-in XOR task" >&2
fi
if [ -f "$fm/train-images-idx3-ubyte.gz" ] && [ -f "$fm/t10k-labels-idx1-ubyte.gz" ]; then
    exp=netlists/fmnist-demo-experiment.xml
    what="784-32-10 diode-resistor network on 4000 Fashion-MNIST images"
else
    exp=netlists/demo-experiment.xml
    what="2-16-2 diode-resistor network on the built-in XOR task"
fi
rm -rf runs/demo
echo "== eqspice demo: train a $what by centered EqProp =="
echo "   experiment: $exp"
"$cli" train "$exp" --stats
echo
echo "== runs/demo/metrics.csv (errors are fractions, seconds per epoch) =="
column -s, -t runs/demo/metrics.csv 2>/dev/null || cat runs/demo/metrics.csv
echo "   (runs/demo also holds trained.cir, a netlist stock ngspice runs, and conductances.csv)"
echo
echo "== the run evaluated again from its own files, no flags: eqspice eval runs/demo =="
echo "   (trained.cir carries its diodes, encoding, gain and targets; the result equals"
echo "   the last row of metrics.csv)"
"$cli" eval runs/demo

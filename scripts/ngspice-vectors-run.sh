#!/usr/bin/env bash
# ngspice-vectors-run.sh (make check-ngspice-vectors): train a 784-100-10
# Fashion-MNIST DRN (or take RUN), export it with N test vectors and check
# its top.cir in stock ngspice against eqspice's predictions.
#   scripts/ngspice-vectors-run.sh CLI N [RUN]
set -euo pipefail
cli=${1:-build/eqspice}
n=${2:-1000}
run=${3:-}
out=build/ngspice-vectors
[ -r /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] ||
  { echo "check-ngspice-vectors: needs dataset-fashion-mnist (apt-get install dataset-fashion-mnist)" >&2; exit 2; }
mkdir -p "$out"
if [ -z "$run" ]; then
  run=$out/run
  if [ ! -f "$run/trained.cir" ]; then
    rm -rf "$run"
    "$cli" train netlists/fmnist-784-100-10-study.xml --set training.epochs=1 \
      --set solver.diodes=shockley -o "$run"
  fi
fi
rm -rf "$out/handoff"
"$cli" export "$run" --vectors "$n" -o "$out/handoff"
t0=$(date +%s)
bash scripts/check-ngspice-vectors.sh "$out/handoff"
echo "check-ngspice-vectors: $(( $(date +%s) - t0 )) s of ngspice ($out/handoff/ngspice-vectors.csv)"

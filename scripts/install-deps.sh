#!/usr/bin/env bash
# Install the Debian packages eqspice needs to build, test and run.
# Quiet when everything is already installed; otherwise runs
# `apt-get update` once, then `apt-get install -y` for what is missing.
set -euo pipefail

pkgs=(
  build-essential pkg-config
  libngspice0-dev            # ngspice shared library + sharedspice.h
  libsuitesparse-dev         # CHOLMOD, KLU
  libxml2-dev                # experiment/model XML with XSD validation
  check                      # unit-test framework
  zlib1g-dev                 # gzip-compressed datasets
  libopenblas-dev            # dense BLAS for the layered solver
  libcairo2-dev              # learning-curve plots (PNG)
  librandom123-dev           # counter-based RNG (Philox), header-only
  ngspice                    # stock ngspice -b: the hand-off test also runs top.cir in it (skipped if absent)
  nettle-dev                 # base64 of the report's embedded images (SHA-256 of hand-offs)
  libsundials-dev            # CVODE: TEAM memristor kinetics (update/team.c)
)
# Optional: OpenMPI for data-parallel training and sweeps under mpirun
# (docs/cluster.md): EQS_WITH_MPI=1 (make deps-mpi).  Without it eqspice
# builds and tests as one process; with it make check runs the MPI tests.
mpi_pkgs=(libopenmpi-dev openmpi-bin)
if [ "${EQS_WITH_MPI:-0}" = 1 ]; then
  pkgs+=("${mpi_pkgs[@]}")
fi
# Optional extras: install with EQS_EXTRA_PKGS="..." (space separated).
if [ -n "${EQS_EXTRA_PKGS:-}" ]; then
  # shellcheck disable=SC2206
  pkgs+=(${EQS_EXTRA_PKGS})
fi

missing=()
for p in "${pkgs[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    "install ok installed") ;;
    *) missing+=("$p") ;;
  esac
done

[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}" >&2
if [ "${EQS_WITH_MPI:-0}" != 1 ] && ! dpkg-query -W -f='${Status}' libopenmpi-dev 2>/dev/null | grep -q "ok installed"; then
  echo "install-deps: optional, not installed: OpenMPI for mpirun eqspice train|sweep (docs/cluster.md): make deps-mpi" >&2
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

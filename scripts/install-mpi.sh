#!/usr/bin/env bash
# Open MPI for data-parallel training (`pstc train --distributed mpi`, docs/training.md): Debian's
# `openmpi-bin libopenmpi-dev` (libmpi.so.40, mpirun; PMIx for `srun --mpi=pmix`). Installed only
# when missing, as root on Debian/Ubuntu; elsewhere we say how. Called by scripts/setup.sh when
# PSTC_WITH_MPI=1, and by test/train/distributed.test.ts when mpirun is missing.
set -euo pipefail
say() { printf '[setup] %s\n' "$*" >&2; }
if command -v mpirun >/dev/null && ldconfig -p 2>/dev/null | grep -q 'libmpi\.so\.40'; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ -r /etc/debian_version ]; then
  say "installing Open MPI (Debian's openmpi-bin libopenmpi-dev) for --distributed mpi"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends openmpi-bin libopenmpi-dev >/dev/null \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends openmpi-bin libopenmpi-dev >/dev/null; } \
    || { say "could not install Open MPI; --distributed mpi and its tests are unavailable"; exit 1; }
else
  say "no Open MPI: install Debian's openmpi-bin libopenmpi-dev (apt-get install openmpi-bin libopenmpi-dev) for --distributed mpi"
  exit 1
fi

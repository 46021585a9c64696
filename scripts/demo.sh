#!/usr/bin/env bash
# The main job: set-up (idempotent), then check every model, explain PST-T, and run and bench the
# tiny PST model on the WebGPU device.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup.sh"
cd "$root"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/pstc-xdg-$(id -u)}
pstc() { node bin/pstc.js "$@"; }
echo "== pstc check models/**/*.pst"
pstc check models/*.pst models/ablations/*.pst models/tiny/*.pst
echo
echo "== pstc explain models/pst-t.pst"
pstc explain models/pst-t.pst
echo
# A forward pass of the tiny model on the WebGPU device (lavapipe where there is no GPU): random
# weights and a random clip (pstc run's --random-input, so the demo needs no data file), logits to a
# temporary .npy; then the bench table of the same model.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "== pstc run models/tiny/pst-tiny.pst --random-weights 1 --random-input 1"
pstc run models/tiny/pst-tiny.pst --random-weights 1 --random-input 1 --out "$tmp/logits.npy"
echo
echo "== pstc bench models/tiny/pst-tiny.pst --iters 5"
pstc bench models/tiny/pst-tiny.pst --iters 5

#!/usr/bin/env bash
# The main job: set-up (idempotent), then check every model and explain PST-T.
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

#!/usr/bin/env bash
# The main job: set-up (idempotent), then check every model, explain PST-T, and run a small
# ablation of shift variants end to end (train, evaluate, time, report).
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
# The main job: a small ablation end to end on the WebGPU device (lavapipe where there is no GPU).
# Four tiny variants — the no-shift Swin 2D baseline, TSM-style channel shift, patch shift only,
# and PST — each trained with the same data, schedule, seed and budget on the order-only synthetic
# motion set, evaluated, timed, and compared in a report (tables and plots). A rerun skips the
# runs already finished in ablation/demo. The numbers are whatever the runs measure.
echo "== pstc ablate models/tiny/demo-ablation-tiny.pst (4 variants, 60 training steps each)"
pstc ablate models/tiny/demo-ablation-tiny.pst --data synthetic:motion,val=100 --steps 60 --batch 8 --out ablation/demo
echo
echo "== the table (ablation/demo/results.md)"
cat ablation/demo/results.md
echo
echo "report: $root/ablation/demo/report.html (open it in a browser)"

#!/usr/bin/env bash
# The main job: set-up (idempotent), then check every model, explain PST-T, and run a small
# ablation of shift variants end to end (train, evaluate, time, report).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The demo needs no browser: skip installing Chromium (the tests' set-up installs it).
PSTC_NO_CHROMIUM=${PSTC_NO_CHROMIUM:-1} bash "$root/scripts/setup.sh"
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
# and PST — each trained two seeds with the same data, schedule and budget (the train section of
# the file's base model: 100 steps of 16 clips) on order-only synthetic motion (approach/recede and
# appear/disappear: a clip and its reversal are the two classes of a pair), evaluated, timed, and
# compared in a report (tables and plots): per variant the mean and 95 % interval over seeds, each
# variant against Swin 2D paired by seed with a verdict. A rerun skips the runs already finished in
# ablation/demo. The numbers are whatever the runs measure.
echo "== pstc ablate models/tiny/demo-ablation-tiny.pst (4 variants × 2 seeds, 100 training steps each)"
pstc ablate models/tiny/demo-ablation-tiny.pst --data synthetic:motion,noise=0,tile=1,classes=4,first_pair=3,train=1600,val=200 \
  --seeds 2 --against swin2d --out ablation/demo
echo
echo "== the table (ablation/demo/results.md)"
cat ablation/demo/results.md
echo
echo "report: $root/ablation/demo/report.html (open it in a browser)"

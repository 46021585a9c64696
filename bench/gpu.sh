#!/usr/bin/env bash
# Every WebGPU measurement for the device machine in one call (see /work/shared/gpu/README.md):
# build and pack here (npm run build && ../shared/gpu/pack.sh), then run with carry [".gpu", "dist"]:
#   bash .gpu/run.sh bash bench/gpu.sh
# Writes details under $OUT and prints a short table last.
set -u
out=${OUT:-/tmp/pstc-gpu-out}
mkdir -p "$out"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
step() { echo "== $*"; }

step "goldens through the WebGPU runtime"
timeout 120 node bench/golden-check.mjs 2>&1 | grep -v '^Warning' | tee "$out/golden.txt"

for b in 1 8; do
  step "bench PST-T vs Swin 2D, batch $b"
  timeout 200 node bin/pstc.js bench models/pst-t.pst --batch "$b" --warmup 3 --iters 10 \
    --baseline models/swin2d-t.pst --json > "$out/bench-b$b.json" 2> "$out/bench-b$b.err"
  echo "exit $?"; grep -v '^Warning' "$out/bench-b$b.err" | tail -5
done

step "summary"
node -e '
  const fs = require("fs");
  for (const b of [1, 8]) {
    const f = process.argv[1] + "/bench-b" + b + ".json";
    if (!fs.existsSync(f) || !fs.statSync(f).size) { console.log("batch " + b + ": no result"); continue; }
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    const row = (x) => `${x.model} ${x.latencyMs.median.toFixed(1)} ms (${x.latencyMs.min.toFixed(1)}..${x.latencyMs.max.toFixed(1)}), ` +
      `${x.clipsPerSecond.toFixed(1)} clips/s, ${x.dispatchesPerForward} dispatches, planned ${(x.plannedPeakBytes.total / 2 ** 20).toFixed(0)} MiB`;
    console.log(`batch ${b} on ${r.adapter.vendor} ${r.adapter.architecture} ${r.adapter.description}`);
    for (const x of r.results) console.log("  " + row(x));
    console.log(`  ratio ${r.results[0].model} / ${r.results[1].model}: ${r.ratio.toFixed(3)}`);
  }
' "$out"

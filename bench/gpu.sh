#!/usr/bin/env bash
# Every WebGPU measurement for the device machine in one call (see /work/shared/gpu/README.md):
# build and pack here (npm run build && ../shared/gpu/pack.sh), then run with carry [".gpu", "dist"]:
#   bash .gpu/run.sh bash bench/gpu.sh
# Writes details under $OUT and prints a short table last: the adapter and what it offers
# (subgroup-matrix configurations included), the goldens through the WebGPU runtime, PST-T against
# Swin 2D-T at batch 1 and 8 (alternating passes, the ratio with its interval), PST-T's
# per-kernel profile at batch 1 and 8, and at batch 8 with and without the LayerNorm prologue.
# MODEL, BASELINE, SIZE and FRAMES override the models and the clip (a quick run here on lavapipe:
#   MODEL=models/tiny/pst-tiny.pst BASELINE=models/tiny/swin2d-tiny.pst bash bench/gpu.sh).
set -u
out=${OUT:-/tmp/pstc-gpu-out}
mkdir -p "$out"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
model=${MODEL:-models/pst-t.pst}
baseline=${BASELINE:-models/swin2d-t.pst}
clip=()
[ -n "${SIZE:-}" ] && clip+=(--size "$SIZE")
[ -n "${FRAMES:-}" ] && clip+=(--frames "$FRAMES")
step() { echo "== $*"; }

step "goldens through the WebGPU runtime"
timeout 120 node bench/golden-check.mjs 2>&1 | grep -v '^Warning' | tee "$out/golden.txt"

for b in 1 8; do
  step "bench $model vs $baseline, batch $b"
  timeout 200 node bin/pstc.js bench "$model" --backend webgpu --batch "$b" "${clip[@]}" --warmup 3 --iters 10 \
    --baseline "$baseline" --json > "$out/bench-b$b.json" 2> "$out/bench-b$b.err"
  echo "exit $?"; grep -v '^Warning' "$out/bench-b$b.err" | tail -5
done

for b in 1 8; do
  step "profile of $model, batch $b"
  timeout 200 node bin/pstc.js bench "$model" --batch "$b" "${clip[@]}" --warmup 3 --iters 5 --profile \
    > "$out/profile-b$b.txt" 2> "$out/profile-b$b.err"
  echo "exit $?"; grep -v '^Warning' "$out/profile-b$b.err" | tail -5
done

# The LayerNorm prologue (on for tiled kernels) against the LayerNorm kernels, at batch 8.
for p in on off; do
  step "profile of $model, batch 8, PSTC_LAYERNORM_PROLOGUE=$p"
  PSTC_LAYERNORM_PROLOGUE=$p timeout 200 node bin/pstc.js bench "$model" --batch 8 "${clip[@]}" --warmup 3 --iters 10 --profile \
    > "$out/prologue-$p.txt" 2> "$out/prologue-$p.err"
  echo "exit $?"; grep -v '^Warning' "$out/prologue-$p.err" | tail -5
  grep -E '^(latency median|GEMM|LayerNorm|total) ' "$out/prologue-$p.txt"
done

step "summary"
node -e '
  const fs = require("fs");
  let adapterShown = false;
  for (const b of [1, 8]) {
    const f = process.argv[1] + "/bench-b" + b + ".json";
    if (!fs.existsSync(f) || !fs.statSync(f).size) { console.log("batch " + b + ": no result"); continue; }
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    if (!adapterShown) {
      const c = r.adapter.capabilities;
      console.log(`adapter ${r.adapter.vendor} ${r.adapter.architecture} ${r.adapter.description}`);
      console.log(`  shader-f16 ${c.shaderF16}, subgroups ${c.subgroups} (${c.subgroupMinSize}..${c.subgroupMaxSize}), timestamp-query ${c.timestampQuery}, ` +
        `subgroup matrices ${c.subgroupMatrix}: ${c.subgroupMatrixConfigs.map((m) => `${m.componentType}->${m.resultComponentType} ${m.M}x${m.N}x${m.K}`).join(", ") || "none"}`);
      adapterShown = true;
    }
    const row = (x) => `${x.model} ${x.latencyMs.median.toFixed(1)} ms (${x.latencyMs.min.toFixed(1)}..${x.latencyMs.max.toFixed(1)}), ` +
      `${x.clipsPerSecond.toFixed(1)} clips/s, ${x.dispatchesPerForward} dispatches, planned ${(x.plannedPeakBytes.total / 2 ** 20).toFixed(0)} MiB`;
    console.log(`batch ${b}:`);
    for (const x of r.results) console.log("  " + row(x));
    const ci = r.ratioInterval;
    console.log(`  ratio ${r.results[0].model} / ${r.results[1].model}: ${r.ratio.toFixed(3)}` + (ci ? ` (95 % interval ${ci.low.toFixed(3)}..${ci.high.toFixed(3)}, ${ci.pairs} pairs)` : ""));
  }
  for (const b of [1, 8]) {
    const f = process.argv[1] + "/profile-b" + b + ".txt";
    if (!fs.existsSync(f)) continue;
    // The profile table by kind: from its header ("kind  kernels …") to the next blank line.
    const lines = fs.readFileSync(f, "utf8").split("\n");
    const at = lines.findIndex((l) => /^kind +kernels/.test(l));
    if (at < 0) { console.log(`profile batch ${b}: no table`); continue; }
    const end = lines.findIndex((l, i) => i > at && l.trim() === "");
    console.log(`profile batch ${b}:\n  ` + lines.slice(at, end < 0 ? undefined : end).join("\n  "));
  }
' "$out"

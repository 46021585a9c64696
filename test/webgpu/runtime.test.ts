// Every fused kernel kind on the device against the float64 interpreter, each fed the
// interpreter's own values of its inputs (fresh random weights and clip per run), plus the kernel
// listing and the memory plan of the runtime.
import { describe, expect, it } from 'vitest';
import { interpret, storedValues } from '../../backends/reference/interpreter.js';
import type { LoweredKernel } from '../../backends/webgpu/lower-kernels.js';
import { lowerKernels } from '../../backends/webgpu/lower-kernels.js';
import { compileModel, planModel } from '../../backends/webgpu/runtime.js';
import { fusionFor } from '../../backends/webgpu/plan.js';
import { EnvironmentSettingError } from '../../backends/webgpu/device.js';
import { MIN_LIMITS } from '../../backends/webgpu/kernels/common.js';
import { runCli } from '../cli/run-cli.js';
import { GraphBuilder, type Graph, type NodeId } from '../../src/ir/graph.js';
import * as maps from '../../src/ir/maps.js';
import { fuse } from '../../src/passes/fuse.js';
import type { WeightMap } from '../../src/weights/index.js';
import { graphAfter, randomClip, randomWeights, tinyModel } from '../passes/helpers.js';
import { freshSeed, maxNormRelativeError, runKernel, useDevice } from './util.js';

const device = useDevice();

const TOLERANCE = 1e-4;

/** Run one lowered kernel with the interpreter's values of its inputs; its error against the interpreter's output. */
async function kernelError(step: LoweredKernel, values: Map<NodeId, Float64Array>, weights: WeightMap): Promise<number> {
  const inputs: Record<string, Float32Array | Int32Array> = {};
  let output = '';
  for (const b of step.kernel.bindings) {
    if (b.constant) continue;
    const bound = step.binds[b.name]!;
    if (b.kind === 'storage') {
      output = b.name;
      continue;
    }
    if (bound.kind === 'tensor') inputs[b.name] = Float32Array.from(values.get(bound.node)!);
    else if (bound.kind === 'param') inputs[b.name] = weights.get(bound.name)!.data;
    else if (bound.kind === 'table') inputs[b.name] = bound.data;
    else throw new Error(`test: no value for a ${bound.kind} binding`);
  }
  const got = await runKernel(device(), step.kernel, inputs, output);
  return maxNormRelativeError(got, values.get(step.fused.out)!);
}

/** One step per distinct WGSL body (blocks with equal shapes and maps share one). */
function distinctSteps(steps: LoweredKernel[]): LoweredKernel[] {
  const seen = new Set<string>();
  return steps.filter((s) => {
    const body = s.kernel.wgsl.split('\n').filter((l) => !l.trimStart().startsWith('//')).join('\n');
    if (seen.has(body)) return false;
    seen.add(body);
    return true;
  });
}

async function checkKernels(graph: Graph, weights: WeightMap, clip: Float64Array, seed: number): Promise<string[]> {
  const fused = fuse(graph);
  const values = storedValues(fused, interpret(graph, { clip }, weights, { keep: () => true }).values);
  const steps = distinctSteps(lowerKernels(fused, device().kernelLimits()));
  const report: string[] = [];
  for (const step of steps) {
    const error = await kernelError(step, values, weights);
    report.push(`${step.kernel.label}: ${error.toExponential(2)}`);
    expect(error, `${step.kernel.label} (seed ${seed})`).toBeLessThanOrEqual(TOLERANCE);
  }
  return report;
}

describe('fused kernels on the device', () => {
  it('every kernel of PST-tiny (GEMM through TCS/TPS/roll/pad maps, GELU and residual epilogues, attention with bias and mask, LayerNorm through the merge gather, mean, copy)', async () => {
    const seed = freshSeed();
    const model = tinyModel('pst-tiny');
    const graph = graphAfter(model, 'commute', 2);
    const report = await checkKernels(graph, randomWeights(model, seed), randomClip(graph, seed), seed);
    console.log(`seed ${seed}\n${report.join('\n')}`);
    const kinds = new Set(report.map((r) => r.split('_')[1]));
    expect([...kinds].sort()).toEqual(['attention', 'copy', 'gemm', 'layernorm', 'mean']);
    // norm1 and norm2 are applied in their GEMMs' loads: the statistics kernels and those GEMMs were checked.
    expect(report.some((r) => /^k\d+_layernorm_stats_/.test(r))).toBe(true);
  }, 600_000);

  it('a lone GELU and a lone add reading through a view (no epilogue to fuse them into)', async () => {
    const seed = freshSeed();
    const model = tinyModel('pst-tiny');
    const shape = [2, 6, 8];
    const g = new GraphBuilder(model, shape);
    const x = g.input('clip', shape);
    const w = g.param('w', [8, 8]);
    const y = g.op({ kind: 'linear', bias: false }, [x, w], 'lin');
    const act = g.op({ kind: 'gelu' }, [y], 'act');
    const rolled = g.view(act, maps.roll(shape, [0, 2, 0]), 'roll', 'rolled');
    const sum = g.op({ kind: 'add' }, [y, rolled], 'sum');
    g.op({ kind: 'output', name: 'features' }, [sum], 'features');
    const graph = g.build();
    const kinds = fuse(graph).kernels.map((k) => k.kind);
    expect(kinds).toEqual(['gemm', 'gelu', 'add']);
    const weights: WeightMap = new Map([['w', { shape: [8, 8], data: Float32Array.from(randomClip({ ...graph, inputShape: [8, 8] }, seed + 1)) }]]);
    const report = await checkKernels(graph, weights, randomClip(graph, seed), seed);
    console.log(`seed ${seed}\n${report.join('\n')}`);
  });
});

describe('kernel listing', () => {
  it('folds LayerNorms into GEMM loads for tiled (GPU) kernels, and keeps their kernels for the barrier-free (CPU) ones', () => {
    const model = tinyModel('pst-tiny');
    const input = { batch: 1, frames: model.input.frames, size: model.input.size };
    const kindsFor = (style: 'tiled' | 'direct') => planModel(model, input, { style }).fused.kernels.map((k) => k.kind);
    const tiled = kindsFor('tiled');
    const direct = kindsFor('direct');
    expect(tiled).toContain('layernorm_stats');
    expect(direct).not.toContain('layernorm_stats');
    expect(tiled).toHaveLength(direct.length);
    const prologue = planModel(model, input, { style: 'tiled' }).kernels.filter((k) => k.wgsl.includes('LayerNorm prologue'));
    expect(prologue).toHaveLength(tiled.filter((k) => k === 'layernorm_stats').length);
  });

  for (const family of ['pst-tiny', 'video-swin-tiny']) {
    it(`${family}: no copy-only kernel but the final layout; every view is read by a kernel`, () => {
      const model = tinyModel(family);
      const plan = planModel(model, { batch: 2, frames: model.input.frames, size: model.input.size });
      const copies = plan.kernels.filter((k) => k.copyOnly);
      expect(copies).toHaveLength(1);
      expect(copies[0]!.fuses.some((f) => f.includes('output features'))).toBe(true);
      expect(copies[0]!.wgsl).toContain('COPY ONLY');
      const reads = plan.kernels.flatMap((k) => k.reads).join('\n');
      for (const n of plan.graph.nodes) {
        if (n.op.kind === 'view') expect(reads, `view %${n.id} ${n.op.what}`).toMatch(new RegExp(`%${n.id} `));
      }
      // The shifts are folded into GEMM loads, and the headers say so.
      for (const k of plan.kernels) {
        expect(k.wgsl).toMatch(/fuses: /);
        if (k.reads.length) expect(k.wgsl).toMatch(/read through: /);
      }
      if (family === 'pst-tiny') {
        const qkv = plan.kernels.filter((k) => k.label.includes('attn.qkv'));
        expect(qkv.some((k) => /tcs/.test(k.wgsl) && !k.copyOnly)).toBe(true);
        expect(qkv.some((k) => /tps/.test(k.wgsl) && !k.copyOnly)).toBe(true);
      }
      expect(plan.dispatchesPerForward).toBe(plan.kernels.length);
    });
  }
});

describe('memory plan', () => {
  it('is deterministic, above the liveness bound, and what the runtime allocates', async () => {
    const seed = freshSeed();
    const model = tinyModel('pst-tiny');
    const input = { batch: 2, frames: model.input.frames, size: model.input.size };
    const a = planModel(model, input, device().limits);
    const b = planModel(model, input, device().limits);
    expect(b.plannedPeakBytes).toEqual(a.plannedPeakBytes);
    expect(a.plannedPeakBytes.activations).toBeGreaterThanOrEqual(a.memory.livePeakBytes);
    expect(a.plannedPeakBytes.total).toBe(a.plannedPeakBytes.activations + a.plannedPeakBytes.weights);
    const compiled = await compileModel(device(), model, input, randomWeights(model, seed));
    try {
      console.log(`planned ${JSON.stringify(a.plannedPeakBytes)}, measured ${compiled.measuredPeakBytes()}`);
      expect(compiled.measuredPeakBytes()).toBe(a.plannedPeakBytes.total);
    } finally {
      compiled.destroy();
    }
  });
});

describe('settings from the environment', () => {
  it('PSTC_LAYERNORM_PROLOGUE=on|off overrides the kernel style\'s choice; another value is the user\'s mistake, named', () => {
    expect(fusionFor({ ...MIN_LIMITS, style: 'tiled' }, undefined)).toEqual({ layerNormPrologue: true });
    expect(fusionFor({ ...MIN_LIMITS, style: 'direct' }, undefined)).toEqual({ layerNormPrologue: false });
    expect(fusionFor({ ...MIN_LIMITS, style: 'direct' }, 'on')).toEqual({ layerNormPrologue: true });
    expect(fusionFor({ ...MIN_LIMITS, style: 'tiled' }, 'off')).toEqual({ layerNormPrologue: false });
    expect(() => fusionFor(MIN_LIMITS, 'yes')).toThrow(EnvironmentSettingError);
    expect(() => fusionFor(MIN_LIMITS, 'yes')).toThrow(/PSTC_LAYERNORM_PROLOGUE=yes .*on or off/);
  });

  it('a bad PSTC_KERNELS or PSTC_LAYERNORM_PROLOGUE exits 2 with one line, not as an internal error', async () => {
    for (const [name, value] of [['PSTC_KERNELS', 'fast'], ['PSTC_LAYERNORM_PROLOGUE', 'maybe']] as const) {
      const saved = process.env[name];
      process.env[name] = value;
      try {
        const r = await runCli(['bench', 'models/tiny/pst-tiny.pst', '--backend', 'webgpu', '--warmup', '0', '--iters', '1']);
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toContain(`${name}=${value}`);
        expect(r.stderr).not.toContain('internal error');
      } finally {
        if (saved === undefined) delete process.env[name];
        else process.env[name] = saved;
      }
    }
  });
});

// Every shipped model planned for training at batch 1…32 under lavapipe's real limits and under
// small forced ones — planning only (no device), so the large models stay cheap: each model's
// one-clip probe is planned once and the micro-batch of every batch is chosen from it
// (micro-batch.ts); the chosen plans are then built and verified for the tiny models. What must
// hold: the micro-batch divides the batch and fits the limit, the next larger divisor would not
// (it is the largest), or PST307 when one clip or one weight alone is over the limit.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { KernelLimits } from '../../backends/webgpu/kernels/common.js';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { checkFiles, loadModel } from '../../src/lang/elaborate.js';
import type { ModelConfig } from '../../src/lang/model.js';
import { readFromDisk } from '../../src/lang/read-disk.js';
import { bindingLimit, bindingsOf, chooseMicroBatch, largestOf, type BindingLimit } from '../../src/train/micro-batch.js';
import { StepPlanner } from '../../src/train/plan.js';

/** lavapipe (Mesa 25.0.7, llvmpipe, this machine) as PstcDevice reads it: the kernel limits and the binding limits. */
const LAVAPIPE_KERNELS: KernelLimits = {
  maxComputeInvocationsPerWorkgroup: 1024,
  maxComputeWorkgroupStorageSize: 32768,
  maxComputeWorkgroupSizeX: 1024,
  maxComputeWorkgroupsPerDimension: 65535,
  maxStorageBuffersPerShaderStage: 16,
  style: 'direct',
  subgroupSize: 8,
};
const LAVAPIPE = { maxStorageBufferBindingSize: 134217728, maxBufferSize: 4294967295 };
const MiB = 2 ** 20;

const files = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.pst'))
    .map((f) => `${dir}/${f}`);
const SHIPPED = [...files('models'), ...files('models/tiny')];

const divisorsAbove = (batch: number, m: number) => Array.from({ length: batch - m }, (_, i) => m + 1 + i).filter((d) => batch % d === 0);

/** For every batch 1…32: the choice from the probe, checked; the micro-batches chosen, or the PST307 message. */
function sweep(planner: StepPlanner, limit: BindingLimit): { chosen: Set<number>; refused?: string } {
  const probe = planner.graph(1);
  const bindings = bindingsOf(probe);
  const perClip = largestOf(bindings.filter((b) => b.perClip))!.bytes;
  const fixed = largestOf(bindings.filter((b) => !b.perClip))?.bytes ?? 0;
  const chosen = new Set<number>();
  for (let batch = 1; batch <= 32; batch++) {
    let choice;
    try {
      choice = chooseMicroBatch(probe, batch, limit);
    } catch (e) {
      expect(e).toBeInstanceOf(DiagnosticError);
      const d = (e as DiagnosticError).diagnostics[0]!;
      expect(d.code).toBe('PST307');
      // Refused only when not even one clip (or one weight) fits, whatever the batch.
      expect(perClip > limit.bytes || fixed > limit.bytes).toBe(true);
      return { chosen, refused: d.message };
    }
    const m = choice.microBatch;
    expect(batch % m).toBe(0);
    expect(choice.split).toBe(batch / m);
    expect(m * perClip).toBeLessThanOrEqual(limit.bytes);
    for (const d of divisorsAbove(batch, m)) expect(d * perClip, `batch ${batch}: micro-batch ${d} would fit too`).toBeGreaterThan(limit.bytes);
    expect(choice.reason !== undefined).toBe(m < batch);
    chosen.add(m);
  }
  return { chosen };
}

/** A file's model, or every variant of a file of sweeps (which declares no model of its own). */
function modelsOf(file: string): ModelConfig[] {
  const result = checkFiles([file], readFromDisk);
  return result.models.some((m) => !m.name.includes('.') && !m.name.includes('[')) ? [loadModel(file, undefined, readFromDisk).model] : result.models;
}
const model = (file: string): ModelConfig => loadModel(file, undefined, readFromDisk).model;

describe('training plans of every shipped model at batch 1…32', () => {
  it('lists the shipped models', () => {
    expect(SHIPPED.length).toBeGreaterThanOrEqual(17);
  });

  for (const file of SHIPPED) {
    const tiny = file.includes('/tiny/');
    it(`${file}: lavapipe's limits and forced ones of 8 MiB${tiny ? ' and 256 KiB' : ''}`, () => {
      const models = modelsOf(file);
      for (const m of models) {
        const planner = new StepPlanner(m, { frames: m.input.frames, size: m.input.size }, { kernelLimits: LAVAPIPE_KERNELS });
        const limits = [bindingLimit(LAVAPIPE), bindingLimit(LAVAPIPE, 8 * MiB), ...(tiny ? [bindingLimit(LAVAPIPE, 256 * 1024)] : [])];
        const lines: string[] = [];
        for (const limit of limits) {
          const { chosen, refused } = sweep(planner, limit);
          lines.push(`${limit.source}: ${refused ? `PST307 (${refused.slice(0, 90)}…)` : `micro-batches ${[...chosen].sort((a, b) => a - b).join(', ')}`}`);
          // The chosen plans built and verified against the limit (the pipeline's verifier and the
          // tables' check): micro-batch 1 (the probe) always; for a tiny file's own model also 2
          // and the largest chosen (32 stands for 3…31 where every batch fits whole).
          const own = tiny && models.length === 1;
          for (const mb of chosen) {
            const built = mb === 1 || (own && (mb === 2 || mb === Math.max(...chosen)));
            if (!built) continue;
            const step = planner.plan(mb, limit);
            expect(step.microBatch).toBe(mb);
            // The probe's per-clip prediction is exact: the largest per-clip binding at mb clips is mb × one clip's.
            const at = largestOf(bindingsOf(step.program).filter((b) => b.perClip))!.bytes;
            expect(at).toBe(mb * largestOf(bindingsOf(planner.graph(1)).filter((b) => b.perClip))!.bytes);
          }
        }
        console.log(`${file}${models.length > 1 ? ` ${m.name}` : ''} (${m.input.frames}×${m.input.size}²): ${lines.join('; ').replace(/micro-batches 1, 2, 3, (\d+, )+32/g, 'micro-batches 1…32')}`);
      }
    }, 600_000);
  }

  it('a limit that no clip fits is PST307 naming the kernel, the tensor and the limit, before anything is built', () => {
    const m = model('models/tiny/pst-tiny.pst');
    const planner = new StepPlanner(m, { frames: m.input.frames, size: m.input.size });
    expect(() => planner.plan(4, bindingLimit(undefined, 64 * 1024))).toThrow(/PST307: training: kernel \S+ binds \S+ '[^']+' \[[\d, ]+\] of 96\.0 KiB for one clip, more than one storage binding allows \(64\.0 KiB, a forced limit of 64\.0 KiB\)/);
  });

  it('PSTC_MAX_BINDING: a size, or a clear error', () => {
    expect(bindingLimit(undefined, undefined, '8MiB').bytes).toBe(8 * MiB);
    expect(bindingLimit(undefined, undefined, '8MiB').source).toBe('PSTC_MAX_BINDING=8MiB');
    expect(bindingLimit(undefined, undefined, '1GiB').bytes).toBe(134217728); // never looser than the device
    expect(bindingLimit(undefined, undefined, '').source).toMatch(/guaranteed/);
    expect(() => bindingLimit(undefined, undefined, 'lots')).toThrow(/PSTC_MAX_BINDING=lots is not a size/);
  });
});

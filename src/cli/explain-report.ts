// What `pstc explain` reports, as data (explainModel, the --json output) and as text
// (renderReport). No Node module here: the CLI prints it and the browser playground shows it.
import type { InputConfig, ModelConfig, PatchShift } from '../lang/model.js';
import { compileProgram, need } from '../passes/pipeline.js';
import { costReport, principleNotes, receptiveField, stageMaps, type CostReport } from '../ir/analysis.js';
import { shiftedHeads } from '../lang/facts.js';
import { dataSettingsText } from '../lang/data-config.js';
import { trainSettingsText } from '../lang/train-config.js';
import { patternPicture, type PatternPicture } from '../ir/pattern.js';
import { effectiveWindow } from '../ir/window.js';
import { patternToText } from '../explore/pattern-picture.js';
import { planProgram } from '../../backends/webgpu/plan.js';
import { formatBytes, formatCount, formatMacs, renderTable } from './table.js';

export interface PatternUse {
  stage: number;
  shift: PatchShift;
  picture: PatternPicture;
  shiftedHeads: number;
  heads: number;
}

/** Everything `explain` reports, as data (the --json output). */
export function explainModel(model: ModelConfig, input: InputConfig) {
  const lowered = compileProgram(model, input, { until: 'lower' });
  const graph = need(lowered, 'graph', 'explain');
  const cost = costReport(graph);
  const maps = stageMaps(graph);
  const patterns: PatternUse[] = [];
  const seen = new Set<string>();
  model.stages.forEach((stage, i) => {
    for (const b of stage.blocks) {
      if (b.shift?.kind !== 'patch' || seen.has(b.shift.name)) continue;
      seen.add(b.shift.name);
      const eff = effectiveWindow(stage, { shiftWindows: false }, maps[i]!);
      patterns.push({
        stage: stage.number,
        shift: b.shift,
        picture: patternPicture(b.shift, eff.window[1], eff.window[2]),
        shiftedHeads: shiftedHeads(b.shift, stage.heads),
        heads: stage.heads,
      });
    }
  });
  // The WebGPU plan under WebGPU's guaranteed limits: what a forward will allocate, known before
  // anything runs (bench reports the same plan for the real adapter, and what it measured).
  const plan = planProgram(lowered);
  return {
    model: model.name,
    input: { shape: graph.inputShape, ...input },
    conventions: {
      macs: 'multiply-accumulates of linear layers, patch embedding and attention (Q·Kᵀ, A·V); ≈ FLOPs/2; elementwise ops not counted',
      memory: 'float32; views folded into consumers hold no memory; activations live from producer to last reader; weights apart',
    },
    cost,
    devicePlan: {
      plannedPeakBytes: plan.plannedPeakBytes,
      kernels: plan.kernels.length,
      dispatchesPerForward: plan.dispatchesPerForward,
      microBatch: plan.microBatch,
      chunks: plan.chunks,
      activationBuffers: plan.memory.buffers.length,
    },
    receptiveField: receptiveField(graph),
    principles: principleNotes(graph),
    patterns,
    shifts: model.stages.map((s) => ({
      stage: s.number,
      blocks: s.blocks.map((b) => (b.shift ? `${b.shift.kind === 'patch' ? 'tps' : 'tcs'}:${b.shift.name}` : 'none')),
    })),
    /** The model's data section (preset values filled in), as `key = value` settings. */
    data: model.data ? dataSettingsText(model.data) : null,
    /** The model's train section (inherited settings included), as `key = value` settings. */
    train: model.train ? trainSettingsText(model.train) : null,
  };
}

export function renderReport(report: ReturnType<typeof explainModel>, color = false): string {
  const lines: string[] = [];
  const [b, c, t, h, w] = report.input.shape;
  lines.push(`${report.model}  input ${b}×${c}×${t}×${h}×${w} (N C T H W)`);
  lines.push('');
  lines.push(costTable(report.cost));
  lines.push('');
  const p = report.devicePlan;
  lines.push(
    `WebGPU plan (guaranteed limits): ${p.kernels} kernels, ${p.dispatchesPerForward} dispatches per forward, micro-batch ${p.microBatch} (${p.chunks} chunk(s)), ${p.activationBuffers} activation buffers; ` +
      `planned device memory ${formatBytes(p.plannedPeakBytes.total)} (activations ${formatBytes(p.plannedPeakBytes.activations)}, weights and tables ${formatBytes(p.plannedPeakBytes.weights)})`,
  );
  lines.push('');
  lines.push(`MACs: ${report.conventions.macs}.`);
  lines.push(`Memory: ${report.conventions.memory}.`);
  lines.push('');
  lines.push('Shifts per block:');
  for (const s of report.shifts) lines.push(`  stage ${s.stage}: ${s.blocks.join(', ')}`);
  for (const p of report.patterns) {
    lines.push('');
    const reach = p.picture.reach;
    lines.push(
      `Pattern ${p.shift.name} (${p.picture.gridSize}×${p.picture.gridSize} grid, reach ±${reach}, ${p.shift.boundary}, ` +
        `${p.shiftedHeads} of ${p.heads} heads${p.shift.shiftBack ? ', shifted back after attention' : ''}): the frame each position of a window of frame d reads, stage ${p.stage}`,
    );
    lines.push(patternToText(p.picture, color));
  }
  lines.push('');
  lines.push('Temporal receptive field (temporal tokens):');
  lines.push(
    renderTable(
      ['stage', 'tokens', 'one block', 'accumulated', 'reachable'],
      report.receptiveField.map((r) => [
        String(r.stage),
        String(r.frames),
        formatRange(r.blockRange),
        formatRange(r.accumulated),
        `${r.reachableFrames}/${r.frames}`,
      ]),
      [true, true, false, false, true],
    ),
  );
  if (report.data) {
    lines.push('');
    lines.push('Data (the data section; what train and eval read without --data; the rest: docs/data.md defaults):');
    for (const line of report.data) lines.push(`  ${line}`);
  }
  if (report.train) {
    lines.push('');
    lines.push('Training defaults (the train section; what train and ablate use where no flag is given):');
    for (const line of report.train) lines.push(`  ${line}`);
  }
  lines.push('');
  lines.push('Design principles:');
  if (report.principles.length === 0) lines.push('  (no shifts: nothing to check)');
  // The same finding in several stages is printed once, with the stages listed.
  const grouped = new Map<string, { severity: string; stages: number[]; text: string }>();
  for (const n of report.principles) {
    const text = `${n.shift}: ${n.principle}: ${n.message}`;
    const key = `${n.severity}|${text}`;
    const g = grouped.get(key) ?? { severity: n.severity, stages: [], text };
    g.stages.push(n.stage);
    grouped.set(key, g);
  }
  for (const g of grouped.values()) {
    const stages = g.stages.length > 1 ? `stages ${g.stages.join(', ')}` : `stage ${g.stages[0]}`;
    lines.push(`  ${g.severity}: ${stages}: ${g.text}`);
  }
  return lines.join('\n');
}

/** A range of relative frames: `+2`, or `-4…+4`. */
export function formatRange([lo, hi]: [number, number]): string {
  const f = (x: number) => (x > 0 ? `+${x}` : String(x));
  return lo === hi ? f(lo) : `${f(lo)}…${f(hi)}`;
}

function costTable(cost: CostReport): string {
  const rows = cost.parts.map((p) => [
    p.part,
    p.outputShape.join('×'),
    formatCount(p.params),
    formatMacs(p.macs),
    formatBytes(p.activationBytes),
    formatBytes(p.peakBytes),
  ]);
  rows.push([
    'total',
    '',
    formatCount(cost.total.params),
    formatMacs(cost.total.macs),
    formatBytes(cost.total.activationBytes),
    formatBytes(cost.total.peakBytes),
  ]);
  const table = renderTable(
    ['part', 'output', 'params', 'MACs', 'activations', 'peak live'],
    rows,
    [false, false, true, true, true, true],
  );
  return `${table}\nbackbone parameters: ${formatCount(cost.total.backboneParams)}; weights ${formatBytes(cost.total.weightBytes)}`;
}

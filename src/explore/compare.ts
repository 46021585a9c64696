// Two models side by side (`pstc explain A.pst --compare B.pst`, or two variants of one sweep):
// structure (the settings a person writes), cost (params, MACs, memory per part and in total, the
// WebGPU plan's peak) and the shift schedule (each block's shift, the patterns' pictures), with
// every row that differs marked.
import { planModel } from '../../backends/webgpu/runtime.js';
import { costReport, type CostReport } from '../ir/analysis.js';
import { lowerModel } from '../passes/lower.js';
import type { ModelConfig } from '../lang/model.js';
import { configSummary, describeShift } from './config-diff.js';
import { formatBytes, formatCount, formatMacs, renderTable } from './format.js';
import { modelPatterns } from './model-patterns.js';
import { patternToText } from './pattern-picture.js';

export interface CompareRow {
  what: string;
  a: string;
  b: string;
  differs: boolean;
}

export interface Comparison {
  a: string;
  b: string;
  input: { a: { batch: number; frames: number; size: number }; b: { batch: number; frames: number; size: number } };
  structure: CompareRow[];
  cost: CompareRow[];
  schedule: CompareRow[];
  patterns: CompareRow[];
  /** Each pattern as explain draws it in text (frame each window position reads), A and B. */
  drawings: { a: string; b: string }[];
  same: boolean;
}

type Input = { batch: number; frames: number; size: number };

export function compareModels(a: ModelConfig, b: ModelConfig, inputA: Input, inputB: Input): Comparison {
  const sa = configSummary(a);
  const sb = configSummary(b);
  const structure = [...new Set([...sa.keys(), ...sb.keys()])]
    .filter((k) => !k.endsWith('.shifts') && k !== 'patch_shift' && k !== 'channel_shift')
    .map((k) => row(k, sa.get(k) ?? '—', sb.get(k) ?? '—'));

  const ca = costReport(lowerModel(a, inputA));
  const cb = costReport(lowerModel(b, inputB));
  const pa = planModel(a, inputA).plannedPeakBytes;
  const pb = planModel(b, inputB).plannedPeakBytes;
  const parts = [...new Set([...ca.parts.map((p) => p.part), ...cb.parts.map((p) => p.part)])];
  const part = (c: CostReport, name: string) => c.parts.find((p) => p.part === name);
  const cost: CompareRow[] = [];
  for (const name of parts) {
    const x = part(ca, name);
    const y = part(cb, name);
    cost.push(row(`${name} params`, x ? formatCount(x.params) : '—', y ? formatCount(y.params) : '—'));
    cost.push(row(`${name} MACs`, x ? formatMacs(x.macs) : '—', y ? formatMacs(y.macs) : '—'));
  }
  cost.push(row('total params', formatCount(ca.total.params), formatCount(cb.total.params)));
  cost.push(row('total MACs', formatMacs(ca.total.macs), formatMacs(cb.total.macs)));
  cost.push(row('activations written', formatBytes(ca.total.activationBytes), formatBytes(cb.total.activationBytes)));
  cost.push(row('peak live activations', formatBytes(ca.total.peakBytes), formatBytes(cb.total.peakBytes)));
  cost.push(row('WebGPU planned peak', formatBytes(pa.total), formatBytes(pb.total)));

  const schedule: CompareRow[] = [];
  const stages = Math.max(a.stages.length, b.stages.length);
  for (let s = 0; s < stages; s++) {
    const blocks = Math.max(a.stages[s]?.blocks.length ?? 0, b.stages[s]?.blocks.length ?? 0);
    for (let i = 0; i < blocks; i++) {
      const label = (m: ModelConfig) => {
        const blk = m.stages[s]?.blocks[i];
        if (!blk) return '—';
        const shift = blk.shift ? `${blk.shift.kind === 'patch' ? 'TPS' : 'TCS'} ${describeShift(blk.shift, false)}` : 'no shift';
        return `${shift}${blk.shiftWindows ? ', shifted windows' : ''}`;
      };
      schedule.push(row(`stage ${s + 1} block ${i}`, label(a), label(b)));
    }
  }
  const ma = modelPatterns(a);
  const mb = modelPatterns(b);
  const pictures = (m: ReturnType<typeof modelPatterns>) => m.map((p) => `stage ${p.stage} (${p.picture.windowH}×${p.picture.windowW} window): ${describeShift(p.shift)}`);
  const qa = pictures(ma);
  const qb = pictures(mb);
  const patterns = Array.from({ length: Math.max(qa.length, qb.length) }, (_, i) => row(`pattern ${i + 1}`, qa[i] ?? '—', qb[i] ?? '—'));
  const drawings = Array.from({ length: Math.max(ma.length, mb.length) }, (_, i) => ({
    a: ma[i] ? patternToText(ma[i]!.picture) : '',
    b: mb[i] ? patternToText(mb[i]!.picture) : '',
  }));
  const all = [...structure, ...cost, ...schedule, ...patterns];
  return { a: a.name, b: b.name, input: { a: inputA, b: inputB }, structure, cost, schedule, patterns, drawings, same: all.every((r) => !r.differs) };
}

function row(what: string, a: string, b: string): CompareRow {
  return { what, a, b, differs: a !== b };
}

/** The comparison as text: three tables, a `*` before each row that differs (in colour on a terminal). */
export function renderComparison(c: Comparison, mark: (s: string) => string = (s) => s): string {
  const table = (title: string, rows: CompareRow[]) => {
    const body = renderTable(
      ['', title, c.a, c.b],
      rows.map((r) => [r.differs ? '*' : '', r.what, r.a, r.b]),
    ).split('\n');
    // Header and rule as they are; rows that differ painted.
    return [body[0], body[1], ...body.slice(2).map((l, i) => (rows[i]!.differs ? mark(l) : l))].join('\n');
  };
  const n = [...c.structure, ...c.cost, ...c.schedule, ...c.patterns].filter((r) => r.differs).length;
  const fmt = (i: Input) => `${i.batch}×${i.frames}×${i.size}²`;
  return [
    `${c.a} (input ${fmt(c.input.a)})  vs  ${c.b} (input ${fmt(c.input.b)})`,
    c.same ? 'the same network: nothing differs' : `${n} row(s) differ, marked *`,
    '',
    table('structure', c.structure),
    '',
    table('cost', c.cost),
    '',
    table('shift schedule', c.schedule),
    ...(c.patterns.length ? ['', table('patch shift patterns', c.patterns)] : []),
    ...c.drawings.flatMap((d, i) => ['', `pattern ${i + 1}: ${c.a} | ${c.b}`, sideBySide(d.a || '(none)', d.b || '(none)')]),
  ].join('\n');
}

function sideBySide(left: string, right: string): string {
  const l = left.split('\n');
  const r = right.split('\n');
  const width = Math.max(...l.map((x) => x.length));
  return Array.from({ length: Math.max(l.length, r.length) }, (_, i) => `${(l[i] ?? '').padEnd(width)}   |   ${r[i] ?? ''}`.trimEnd()).join('\n');
}

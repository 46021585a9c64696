// `pstc compile MODEL.pst --emit wgsl --out DIR`: the kernels a forward pass runs, one WGSL file
// each, with an index saying what every kernel fuses, which index maps it reads through, and
// which kernels only copy data. `--emit ir` prints the folded graph IR instead.
//
// Kernels are planned without a device: tile sizes come from the WebGPU default limits (what
// every adapter offers; the runtime's planModel fills what is not given), so the listing is the
// same on every machine. `--adapter` sizes them for this machine's adapter instead, as `run` does.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { DeviceLimits } from '../../../backends/webgpu/device.js';
import { planModel, type ModelInput, type ModelPlan } from '../../../backends/webgpu/runtime.js';
import { loadModel } from '../../lang/elaborate.js';
import { foldViews } from '../../ir/fold.js';
import type { Graph, Node } from '../../ir/graph.js';
import { mapToString } from '../../ir/indexmap.js';
import { lowerModel } from '../../ir/lower.js';
import { writeFileAtomic } from '../../weights/index.js';
import { UsageError } from '../errors.js';
import type { CommandRegistrar } from '../main.js';
import { inputFrom, withInputOptions } from '../options.js';
import { formatBytes } from '../table.js';
import { withDevice } from './run.js';

interface CompileOptions {
  model?: string;
  emit?: string;
  out?: string;
  batch?: number;
  frames?: number;
  size?: number;
  adapter?: boolean;
}

/** One line per node: id, op (with its attributes), shape, label, inputs; a view shows its map. */
export function irToText(graph: Graph): string {
  const lines = [`// ${graph.model.name}: input [${graph.inputShape.join(', ')}] (N C T H W); activations channels-last`];
  for (const node of graph.nodes) {
    const inputs = node.inputs.length ? ` <- ${node.inputs.map((i) => `%${i}`).join(', ')}` : '';
    lines.push(`%${node.id} = ${opText(node)} [${node.shape.join(', ')}] '${node.label}'${inputs}`);
  }
  return lines.join('\n');
}

function opText(node: Node): string {
  const op = node.op;
  switch (op.kind) {
    case 'input':
    case 'param':
      return `${op.kind} ${op.name}`;
    case 'view':
      return `view ${op.what} {${mapToString(op.map)}}`;
    case 'linear':
      return `linear(bias=${op.bias})`;
    case 'layernorm':
      return `layernorm(eps=${op.eps})`;
    case 'mean':
      return `mean(axes=${op.axes.join(',')})`;
    case 'output':
      return `output ${op.name}`;
    case 'window_attention':
      return (
        `window_attention(heads=${op.heads}, scale=${op.scale.toPrecision(6)}, biasGroups=${op.biasGroups}, ` +
        `windowsPerGroup=${op.windowsPerGroup}, mask=${op.mask ? `${op.maskWindows} windows` : 'none'})`
      );
    default:
      return op.kind;
  }
}

/** `07-layers.0.blocks.1.attn.wgsl`: the dispatch order, then the label made safe for a file name. */
export function kernelFileName(index: number, count: number, label: string): string {
  const width = Math.max(2, String(count - 1).length);
  const safe = label.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '') || 'kernel';
  return `${String(index).padStart(width, '0')}-${safe}.wgsl`;
}

/** index.md: a table of every kernel, copy-only ones marked, with the plan's figures above it. */
export function kernelIndex(plan: ModelPlan, files: readonly string[], limitsFrom: string): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const copies = plan.kernels.filter((k) => k.copyOnly).length;
  const lines = [
    `# Kernels of ${plan.graph.model.name}`,
    '',
    `- input: ${[plan.batch, ...plan.graph.inputShape.slice(1)].join('×')} (N C T H W); micro-batch ${plan.microBatch} (${plan.chunks} chunk(s) per forward)`,
    `- kernels: ${plan.kernels.length}; dispatches per forward: ${plan.dispatchesPerForward}`,
    `- planned peak memory: ${formatBytes(plan.plannedPeakBytes.total)} (activations ${formatBytes(plan.plannedPeakBytes.activations)}, weights ${formatBytes(plan.plannedPeakBytes.weights)})`,
    `- limits: ${limitsFrom}`,
    `- copy-only kernels (whose only work is moving data): ${copies}`,
    '',
    '| # | file | kernel | fuses (IR nodes) | reads through (index maps) | copy-only |',
    '|---|---|---|---|---|---|',
  ];
  plan.kernels.forEach((k, i) => {
    lines.push(
      `| ${i} | ${files[i]} | ${cell(k.label)} | ${cell(k.fuses.join(', ') || '—')} | ${cell(k.reads.join('; ') || '—')} | ${k.copyOnly ? '**copy-only**' : 'no'} |`,
    );
  });
  return `${lines.join('\n')}\n`;
}

/** Write one .wgsl per kernel and index.md into `dir`; returns the file names in dispatch order. */
export function writeKernels(plan: ModelPlan, dir: string, limitsFrom: string): string[] {
  mkdirSync(dir, { recursive: true });
  const files = plan.kernels.map((k, i) => kernelFileName(i, plan.kernels.length, k.label));
  plan.kernels.forEach((k, i) => writeFileAtomic(join(dir, files[i]!), k.wgsl.endsWith('\n') ? k.wgsl : `${k.wgsl}\n`));
  writeFileAtomic(join(dir, 'index.md'), kernelIndex(plan, files, limitsFrom));
  return files;
}

export const registerCompile: CommandRegistrar = (program: Command, io) => {
  withInputOptions(program.command('compile'))
    .description('list the WebGPU kernels of a forward pass as WGSL files with an index (--emit wgsl), or print the folded IR (--emit ir)')
    .argument('<model>', 'a .pst file')
    .option('-m, --model <name>', 'which model or sweep variant of the file (default: the last model declared)')
    .option('--emit <what>', 'wgsl: one file per kernel plus index.md, into --out; ir: the folded graph IR as text')
    .option('--out <path>', 'wgsl: the directory to write; ir: a file (default: stdout)')
    .option('--adapter', "size the kernels from this machine's WebGPU adapter limits (default: WebGPU's default limits, the same everywhere)")
    .action(async (file: string, opts: CompileOptions) => {
      if (opts.emit !== 'wgsl' && opts.emit !== 'ir') {
        throw new UsageError(`--emit: expected \`wgsl\` or \`ir\`, got ${opts.emit === undefined ? 'nothing' : `\`${opts.emit}\``}`);
      }
      if (opts.emit === 'wgsl' && opts.out === undefined) throw new UsageError('--out: missing; the directory for the WGSL files');
      const { model } = loadModel(file, opts.model);
      const input: ModelInput = inputFrom(model, opts);

      if (opts.emit === 'ir') {
        const text = irToText(foldViews(lowerModel(model, input)));
        if (opts.out === undefined) io.out(text);
        else {
          writeFileAtomic(opts.out, `${text}\n`);
          io.out(`wrote ${opts.out}`);
        }
        return;
      }

      let limits: Partial<DeviceLimits> | undefined;
      let limitsFrom = 'WebGPU default limits (`--adapter` sizes kernels for this machine)';
      if (opts.adapter) {
        limits = await withDevice(async (device) => {
          limitsFrom = `the adapter's: ${device.describe()}`;
          return { ...device.limits };
        });
      }
      const plan = planModel(model, input, limits);
      const files = writeKernels(plan, opts.out!, limitsFrom);
      const copies = plan.kernels.filter((k) => k.copyOnly).length;
      io.out(`wrote ${files.length} kernel(s) and index.md to ${opts.out} (${copies} copy-only)`);
    });
};

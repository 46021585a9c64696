// `pstc compile MODEL.pst --emit wgsl --out DIR`: the kernels a forward pass runs, one WGSL file
// each, with an index saying what every kernel fuses, which index maps it reads through, and
// which kernels only copy data. `--emit ir` prints the program instead, as the declared pipeline
// (src/passes/pipeline.ts) leaves it: after its last pass by default, after any pass with --after.
//
// Kernels are planned without a device: tile sizes come from the WebGPU default limits (what
// every adapter offers; backends/webgpu/plan.ts fills what is not given), so the listing is the
// same on every machine. `--adapter` sizes them for this machine's adapter instead, as `run` does.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { planModel, type ModelInput, type ModelPlan, type PlanLimits } from '../../../backends/webgpu/plan.js';
import { DiagnosticError } from '../../lang/diagnostics.js';
import { compileProgram, isPassName, PASSES, PASS_NAMES, type PassName } from '../../passes/pipeline.js';
import { programToText } from '../../passes/print.js';
import { writeFileAtomic } from '../../weights/index.js';
import { withDevice } from '../device.js';
import { UsageError } from '../errors.js';
import type { CommandRegistrar } from '../registrar.js';
import { inputFrom, withInputOptions, withModelArgument } from '../options.js';
import { loadCommandModel } from '../model.js';
import { checkOutputPath, checkOwnFolder } from '../output-path.js';
import { readRegularFile } from '../../lang/read-file.js';
import { formatBytes } from '../table.js';

interface CompileOptions {
  model?: string;
  emit?: string;
  out?: string;
  batch?: number;
  frames?: number;
  size?: number;
  adapter?: boolean;
  after?: string;
  train?: boolean;
  recompute?: boolean;
}

/** --after: a pass of the pipeline, else PST310 listing them. */
export function passAfter(value: string | undefined): PassName | undefined {
  if (value === undefined || isPassName(value)) return value;
  throw new DiagnosticError([
    {
      code: 'PST310',
      severity: 'error',
      message: `\`${value}\` is not a pass of the pipeline`,
      flag: '--after',
      hint: `give one of: ${PASS_NAMES.join(', ')}`,
    },
  ]);
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

/** A folder `writeKernels` wrote: .wgsl files and an index.md that begins as ours does. */
function isKernelFolder(entries: readonly string[], dir: string): boolean {
  if (!entries.includes('index.md') || !entries.every((e) => e === 'index.md' || e.endsWith('.wgsl'))) return false;
  const head = readRegularFile(join(dir, 'index.md'), 64 * 1024 * 1024);
  return 'bytes' in head && new TextDecoder().decode(head.bytes.subarray(0, 64)).startsWith('# Kernels of ');
}

/** Write one .wgsl per kernel and index.md into `dir`; returns the file names in dispatch order. */
export function writeKernels(plan: ModelPlan, dir: string, limitsFrom: string, inputs: Iterable<string> = []): string[] {
  checkOwnFolder({ flag: '--out', path: dir, what: 'a kernel folder of `pstc compile --emit wgsl` (only .wgsl files and its index.md)', ours: isKernelFolder });
  mkdirSync(dir, { recursive: true });
  const files = plan.kernels.map((k, i) => kernelFileName(i, plan.kernels.length, k.label));
  // A file already in the folder may be a symlink to an input (written through, it would be lost).
  const inputList = [...inputs];
  for (const f of [...files, 'index.md']) checkOutputPath({ flag: '--out', path: join(dir, f), kind: 'file', inputs: inputList });
  plan.kernels.forEach((k, i) => writeFileAtomic(join(dir, files[i]!), k.wgsl.endsWith('\n') ? k.wgsl : `${k.wgsl}\n`));
  writeFileAtomic(join(dir, 'index.md'), kernelIndex(plan, files, limitsFrom));
  return files;
}

export const registerCompile: CommandRegistrar = (program: Command, io) => {
  const passes = PASSES.map((p) => `  ${p.name.padEnd(12)} ${p.does}`).join('\n');
  withInputOptions(withModelArgument(program.command('compile')))
    .description('list the WebGPU kernels of a forward pass as WGSL files with an index (--emit wgsl), or print the program after a pass of the pipeline (--emit ir)')
    .option('--emit <what>', 'wgsl: one file per kernel plus index.md, into --out; ir: the program (graph, kernels, buffers) as text')
    .option('--after <pass>', `with --emit ir: print the program after this pass (default: the last), one of ${PASS_NAMES.join(', ')}`)
    .option('--out <path>', 'wgsl: the directory to write; ir: a file (default: stdout)')
    .option('--train', 'with --emit ir: the training program (train-mode forward, loss, autodiff\'s backward)')
    .option('--recompute', 'with --train: activation recomputation per block (the recompute pass)')
    .option('--adapter', "size the kernels from this machine's WebGPU adapter limits (default: WebGPU's default limits, the same everywhere)")
    .addHelpText('after', `\nThe pipeline's passes, in order (--after):\n${passes}`)
    .action(async (file: string, opts: CompileOptions) => {
      if (opts.emit !== 'wgsl' && opts.emit !== 'ir') {
        throw new UsageError(`--emit: expected \`wgsl\` or \`ir\`, got ${opts.emit === undefined ? 'nothing' : `\`${opts.emit}\``}`);
      }
      if (opts.emit === 'wgsl' && opts.out === undefined) throw new UsageError('--out: missing; the directory for the WGSL files');
      if (opts.emit !== 'ir' && opts.after !== undefined) throw new UsageError('--after: only with --emit ir (the WGSL is made from the whole pipeline)');
      if (opts.train && opts.emit !== 'ir') throw new UsageError('--train: only with --emit ir (the WGSL listing is the forward pass)');
      if (opts.recompute && !opts.train) throw new UsageError('--recompute: only with --train');
      const until = passAfter(opts.after);
      const { model, result } = loadCommandModel(file, opts);
      if (opts.out !== undefined) {
        checkOutputPath({ flag: '--out', path: opts.out, kind: opts.emit === 'wgsl' ? 'folder' : 'file', inputs: result.sources.keys() });
      }
      const input: ModelInput = inputFrom(model, opts);

      if (opts.emit === 'ir') {
        if (opts.train && !model.head) throw new UsageError(`--train: ${model.name} has no classification head, so it has no loss to train`);
        const training = opts.train ? { training: { labelSmoothing: 0, recompute: opts.recompute ?? false } } : {};
        const text = programToText(compileProgram(model, input, { ...training, ...(until ? { until } : {}) }));
        if (opts.out === undefined) io.out(text);
        else {
          writeFileAtomic(opts.out, `${text}\n`);
          io.out(`wrote ${opts.out}`);
        }
        return;
      }

      let limits: PlanLimits | undefined;
      let limitsFrom = 'WebGPU default limits (`--adapter` sizes kernels for this machine)';
      if (opts.adapter) {
        limits = await withDevice(async (device) => {
          limitsFrom = `the adapter's: ${device.describe()}; kernel style ${device.kernelStyle}`;
          return { ...device.limits, style: device.kernelStyle, subgroupSize: device.subgroupSize };
        });
      }
      const plan = planModel(model, input, limits);
      const files = writeKernels(plan, opts.out!, limitsFrom, result.sources.keys());
      const copies = plan.kernels.filter((k) => k.copyOnly).length;
      io.out(`wrote ${files.length} kernel(s) and index.md to ${opts.out} (${copies} copy-only)`);
    });
};

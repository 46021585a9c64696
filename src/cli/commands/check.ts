// `pstc check FILE…`: check .pst files and say what each model is. Diagnostics (with their source
// lines) go to stderr; one summary line per model and sweep variant goes to stdout. Exit 1 when
// there are errors; warnings alone do not fail.
import type { Command } from 'commander';
import { hasErrors, renderDiagnostics } from '../../lang/diagnostics.js';
import { checkFiles } from '../../lang/elaborate.js';
import type { ModelConfig } from '../../lang/model.js';
import type { CommandRegistrar } from '../registrar.js';
import { readFromDisk } from '../../lang/read-disk.js';

interface CheckOptions {
  json?: boolean;
  quiet?: boolean;
}

export const registerCheck: CommandRegistrar = (program: Command, io, setExit) => {
  program
    .command('check')
    .description('check .pst files: names, types, shapes and shift placements of every model and sweep variant')
    .argument('<files...>', '.pst files to check (their imports are checked too)')
    .option('--json', 'print the elaborated models and the diagnostics as JSON')
    .option('--quiet', 'print only diagnostics, not the model summaries')
    .action((files: string[], options: CheckOptions) => {
      const result = checkFiles(files, readFromDisk);
      const failed = hasErrors(result.diagnostics);
      if (options.json) {
        const sweeps = result.sweeps.map(({ baseConfig: _base, ...s }) => s); // the base is among `models` or its own file
        io.out(JSON.stringify({ models: result.models, sweeps, diagnostics: result.diagnostics }, null, 2));
      } else {
        if (result.diagnostics.length) io.err(renderDiagnostics(result.diagnostics, { color: io.color, sources: result.sources }));
        if (!options.quiet) {
          const width = Math.max(0, ...result.models.map((m) => m.name.length));
          for (const model of result.models) io.out(summaryLine(model, width));
        }
      }
      setExit(failed ? 1 : 0);
    });
};

/** `pst_t  depths 2,2,6,2  dim 96  heads 3,6,12,24  shifts alternate(tcs,tps)` */
export function summaryLine(model: ModelConfig, width = 0): string {
  const depths = model.stages.map((s) => s.depth).join(',');
  const heads = model.stages.map((s) => s.heads).join(',');
  const dim = model.stages[0]?.dim ?? model.embed.dim;
  const data = model.data ? `  data ${[model.data.preset, model.data.format].filter(Boolean).join(' ') || 'settings'}` : '';
  return `${model.name.padEnd(width)}  depths ${depths}  dim ${dim}  heads ${heads}  shifts ${shiftSummary(model)}${data}`;
}

/**
 * The shift placement in the words of the language: `none`, `all(x)` or `alternate(a,b,…)` when
 * one cycle explains every stage (blocks counted from 0 within each stage), else one list per stage.
 */
export function shiftSummary(model: ModelConfig): string {
  const perStage = model.stages.map((s) => s.blocks.map((b) => (b.shift ? (b.shift.kind === 'patch' ? 'tps' : 'tcs') : 'none')));
  const longest = Math.max(1, ...perStage.map((s) => s.length));
  for (let period = 1; period <= longest; period++) {
    const cycle: (string | undefined)[] = Array.from({ length: period }, () => undefined);
    const fits = perStage.every((labels) =>
      labels.every((label, j) => {
        const at = cycle[j % period];
        if (at === undefined) cycle[j % period] = label;
        return (cycle[j % period] ?? label) === label;
      }),
    );
    if (!fits || cycle.some((c) => c === undefined)) continue;
    if (period === 1) return cycle[0] === 'none' ? 'none' : `all(${cycle[0]})`;
    return `alternate(${cycle.join(',')})`;
  }
  return perStage.map((s) => `[${s.join(',')}]`).join(' ');
}
